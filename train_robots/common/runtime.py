"""Process-level plumbing: repository paths, device choice, seeding, atomic writes."""

from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "data"
CKPT_DIR = REPO_ROOT / "checkpoints"


class UserError(Exception):
    """A problem the user can fix (bad flag, missing or mismatched file): reported without a traceback."""


class ConfigError(UserError, ValueError):
    """A flag or config field with a bad value; the message names it."""


# Episode seeds come from disjoint streams, so evaluation never replays a training episode
# (nor the expert's own online training episodes, "expert").
SEED_STREAMS = {"data": 0, "eval": 1, "expert": 2, "dagger": 3}


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA when present, else CPU; `cuda` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but torch sees no CUDA device; use --device cpu")
    if name not in ("cpu", "cuda"):
        raise ConfigError(f"--device {name!r} is unknown; choose auto, cpu or cuda")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def episode_seed(seed: int, index: int, stream: str) -> int:
    """The environment seed of episode `index` of a run seeded `seed` in a named stream."""
    return int(np.random.SeedSequence([seed, SEED_STREAMS[stream], index]).generate_state(1)[0])


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary name beside `path`, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_figure(path: Path, fig) -> None:
    """Save a matplotlib figure as a PNG (100 dpi) atomically, and close it."""
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(Path(path), buffer.getvalue())


def write_json(path: Path, payload: dict[str, Any]) -> None:
    atomic_write_bytes(Path(path), (json.dumps(payload, indent=2, sort_keys=True) + "\n").encode())


def code_version() -> str:
    """The git commit of the code that wrote a file ("unknown" outside a checkout)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() or "unknown"
