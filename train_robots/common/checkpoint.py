"""Checkpoints: one dict per file, saved atomically, checked against the encoder on load.

{"kind": "bc" | "dynamics" | "sac" | ..., "model": state_dict, "config": {...},
 "task": str, "encoder": {"name", "id", "dim", "image_size"}, "step": int,
 "metrics": {...}, "optimizer": state_dict (optional)}
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from train_robots.common.runtime import UserError, atomic_write_bytes

REQUIRED_KEYS = ("kind", "model", "config", "task", "encoder", "step", "metrics")
ENCODER_IDENTITY = ("name", "id", "dim", "image_size", "clip", "pooling")
"""What must agree between an encoder and the data or checkpoints made with it."""


def encoder_mismatch(recorded: dict, expected: dict) -> list[str]:
    """Where a recorded encoder (meta.json, a checkpoint) differs from the one expected, as
    "field: recorded X, expected Y" (fields the expected encoder leaves at None are not compared)."""
    return [
        f"{field}: recorded {recorded.get(field)!r}, expected {expected.get(field)!r}"
        for field in ENCODER_IDENTITY
        if expected.get(field) is not None and recorded.get(field) != expected.get(field)
    ]


class CheckpointError(UserError, ValueError):
    """A checkpoint that is missing, unreadable or made for other data; names file and field."""


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    missing = [k for k in REQUIRED_KEYS if k not in payload]
    if missing:
        raise ValueError(f"checkpoint for {path} lacks {missing}")
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())


def load_checkpoint(path: Path, kind: str, encoder: dict | None = None, task: str | None = None) -> dict[str, Any]:
    """Load a checkpoint of `kind`; refuse one whose task or encoder (name, dim) differs."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: not found; train it first")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises many types for a damaged file
        raise CheckpointError(f"{path}: cannot be read as a checkpoint ({err.__class__.__name__}: {err})") from err
    missing = [k for k in REQUIRED_KEYS if k not in payload] if isinstance(payload, dict) else list(REQUIRED_KEYS)
    if missing:
        raise CheckpointError(f"{path}: missing field(s) {missing}")
    if payload["kind"] != kind:
        raise CheckpointError(f"{path}: is a {payload['kind']!r} checkpoint, expected {kind!r}")
    if task is not None and payload["task"] != task:
        raise CheckpointError(f"{path}: trained on task {payload['task']!r}, but --task is {task!r}")
    if encoder is not None and (diffs := encoder_mismatch(payload["encoder"], encoder)):
        raise CheckpointError(
            f"{path}: made with another encoder than the data/command line ({'; '.join(diffs)}); "
            "retrain it for this encoder"
        )
    return payload


def checkpoint_dir(ckpt_dir: Path, task: str, encoder: str) -> Path:
    return Path(ckpt_dir) / task / encoder
