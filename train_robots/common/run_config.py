"""The flags the phase scripts share, declared once: each script's `Config` extends a base here.

tyro flattens inherited dataclass fields, so `--task`, `--seed`, `--ckpt-dir`, ... stay
top-level flags of every script, and each script's own `Config` holds only what is its own.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Self

from train_robots.common import cloud
from train_robots.common.encoders import DEFAULT_VJEPA2_ID
from train_robots.common.experts import Expert, make_expert
from train_robots.common.runtime import CKPT_DIR, DATA_DIR, ConfigError
from train_robots.common.task_encoder import TASK_ENCODER_NAME


@dataclass
class CloudConfig:
    """Where a run computes: here on `--device`, or in a Modal container on a `--gpu`."""

    device: str = "auto"
    """auto, cpu or cuda."""
    gpu: str = cloud.DEFAULT_GPU
    """Modal GPU type for `modal run` (ignored locally)."""

    def on_volume(self) -> Self:
        """This config as a Modal container runs it: on its GPU, with its files on the volume."""
        return replace(self, device="cuda")


@dataclass
class RunConfig(CloudConfig):
    """One task and encoder, its data under --data-dir and its checkpoints under --ckpt-dir."""

    task: str = "reacher-easy"
    """Control Suite task: reacher-easy, walker-walk or cheetah-run."""
    encoder: str = "vjepa2"
    """vjepa2 (pretrained), vjepa2-random (same model, random weights), vjepa2-task (pretrained here on
    the task's own video) or state (the proprioceptive oracle); the data, the checkpoints and the
    encoder in the loop must all share it."""
    encoder_id: str = DEFAULT_VJEPA2_ID
    """Hub id or local directory of the pretrained V-JEPA 2 (with --encoder vjepa2), or the directory
    of a vjepa2-task encoder (default for it: <ckpt-dir>/<task>/vjepa2-task/encoder)."""
    preset: str = "cpu"
    """Sizes: smoke (seconds), cpu (minutes on a laptop), full (100k transitions, GPU)."""
    seed: int = 0
    """Seeds everything the run draws (data and evaluation episodes come from disjoint streams of it)."""
    data_dir: Path = DATA_DIR
    """Root of the datasets: <data-dir>/<task>/<encoder>/."""
    ckpt_dir: Path = CKPT_DIR
    """Root of the checkpoints, metrics and plots: <ckpt-dir>/<task>/<encoder>/."""
    expert_velocity_gain: float | None = None
    """Reacher's scripted expert: torque per rad/s of joint-velocity error (default 1.0, which
    shakes in the target; 0.2 comes to rest there). Its data records the gain, and the chain that
    reads the data (and the expert's goals and labels) must be run with the same flag."""

    def encoder_source(self) -> str:
        """Where the encoder loads from: --encoder-id, except that vjepa2-task (pretrained here by
        pretrain_encoder.py) defaults to its directory under --ckpt-dir."""
        if self.encoder == TASK_ENCODER_NAME and self.encoder_id == DEFAULT_VJEPA2_ID:
            return str(Path(self.ckpt_dir) / self.task / TASK_ENCODER_NAME / "encoder")
        return self.encoder_id

    def expert(self) -> Expert:
        """The task's expert: scripted with --expert-velocity-gain, or read from --ckpt-dir."""
        return make_expert(self.task, self.ckpt_dir, self.expert_velocity_gain)

    def shared(self) -> dict[str, Any]:
        """The shared fields only: what a pipeline passes on to every phase's Config."""
        return {f.name: getattr(self, f.name) for f in fields(RunConfig)}

    def on_volume(self) -> Self:
        return replace(super().on_volume(), data_dir=Path(cloud.REMOTE_DATA_DIR), ckpt_dir=Path(cloud.REMOTE_CKPT_DIR))

    def validate(self) -> None:
        """The checks every phase shares; a script's `validate` extends it."""
        for flag, path in (("--data-dir", self.data_dir), ("--ckpt-dir", self.ckpt_dir)):
            check_directory(flag, Path(path))
        if self.expert_velocity_gain is not None:
            self.expert()  # a scripted expert is cheap to build; a bad gain fails here, before any phase


def check_directory(flag: str, path: Path) -> None:
    """`path` is, or can be made, a directory: neither it nor a parent is an existing file."""
    for place in (path, *path.parents):
        if place.exists():
            if not place.is_dir():
                what = "is a file" if place == path else f"lies under {place}, which is a file"
                raise ConfigError(f"{flag} {path} {what}, not a directory")
            return
