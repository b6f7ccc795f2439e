"""The flags the phase scripts share, declared once: each script's `Config` extends a base here.

tyro flattens inherited dataclass fields, so `--task`, `--seed`, `--ckpt-dir`, ... stay
top-level flags of every script, and each script's own `Config` holds only what is its own.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Self

from train_robots.common import cloud
from train_robots.common.checkpoint import checkpoint_dir
from train_robots.common.data import dataset_dir
from train_robots.common.encoders import (
    DEFAULT_VJEPA2_ID,
    Encoder,
    EncoderInfo,
    build_encoder,
    check_variant_flag,
    encoder_info,
)
from train_robots.common.envs import ControlEnv
from train_robots.common.experts import Expert, make_expert
from train_robots.common.pooling import pooled_dim
from train_robots.common.presets import Preset
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
    image_size: int | None = None
    """vjepa2 and vjepa2-random: frame size in pixels (default: the preset's; vjepa2-task keeps the
    size it was pretrained at). Given, it names the encoder's folders: <encoder>-<size>px."""
    pooling: str | None = None
    """vjepa2 and vjepa2-random: how the patch tokens pool into the latent: mean (default), grid<k>
    (k x k cell means, k*k times wider) or mean+grid<k>. Given, it names the encoder's folders:
    <encoder>[-<size>px]-<pooling>, so variants never share data or checkpoints."""
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

    def encoder_folder(self) -> str:
        """The encoder's folder name under the data and checkpoint roots: --encoder, followed by
        --image-size and --pooling where given (each variant is its own encoder)."""
        return self._variant_name(self.pooling)

    def _variant_name(self, pooling: str | None) -> str:
        size = [f"{self.image_size}px"] if self.image_size is not None else []
        return "-".join([self.encoder, *size, *([pooling] if pooling is not None else [])])

    def encoder_flags(self) -> str:
        """The flags that name this encoder on a command line (for hints in messages)."""
        size = f" --image-size {self.image_size}" if self.image_size is not None else ""
        pooling = f" --pooling {self.pooling}" if self.pooling is not None else ""
        return f"--encoder {self.encoder}{size}{pooling}"

    def probe_folder(self) -> Path:
        """Where this encoder's probe lives: its checkpoint folder without --pooling (the probe
        reads every pooling, so one probe serves each pooling's controllers)."""
        return checkpoint_dir(self.ckpt_dir, self.task, self._variant_name(None))

    def dataset_folder(self) -> Path:
        """<data-dir>/<task>/<encoder folder>: this run's dataset."""
        return dataset_dir(self.data_dir, self.task, self.encoder_folder())

    def checkpoint_folder(self) -> Path:
        """<ckpt-dir>/<task>/<encoder folder>: this run's checkpoints, metrics and plots."""
        return checkpoint_dir(self.ckpt_dir, self.task, self.encoder_folder())

    def encoder_sizes(self, preset: Preset) -> Preset:
        """`preset` with --image-size applied (the frame size the encoder renders and reads)."""
        return replace(preset, image_size=self.image_size) if self.image_size is not None else preset

    def build_encoder(self, env: ControlEnv, preset: Preset, device) -> Encoder:
        """The encoder this command line names, at `preset`'s batch and (unless --image-size) frame size."""
        return build_encoder(self.encoder, env, self.encoder_sizes(preset), device, self.encoder_source(), self.pooling)

    def encoder_info(self, env: ControlEnv, preset: Preset) -> EncoderInfo:
        """What `build_encoder` would build, without loading weights."""
        return encoder_info(self.encoder, env, self.encoder_sizes(preset), self.encoder_source(), self.pooling)

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
        self.check_encoder_variant()
        if self.expert_velocity_gain is not None:
            self.expert()  # a scripted expert is cheap to build; a bad gain fails here, before any phase

    def check_encoder_variant(self) -> None:
        """--image-size and --pooling choose a variant of the hub or random encoder only."""
        for flag, value in (("--image-size", self.image_size), ("--pooling", self.pooling)):
            check_variant_flag(flag, self.encoder, value)
        if self.image_size is not None and self.image_size < 16:
            raise ConfigError(f"--image-size {self.image_size} is too small (at least 16 pixels)")
        if self.pooling is not None:
            try:
                pooled_dim(self.pooling, 1)
            except ValueError as err:
                raise ConfigError(f"--pooling: {err}") from err


def check_directory(flag: str, path: Path) -> None:
    """`path` is, or can be made, a directory: neither it nor a parent is an existing file."""
    for place in (path, *path.parents):
        if place.exists():
            if not place.is_dir():
                what = "is a file" if place == path else f"lies under {place}, which is a file"
                raise ConfigError(f"{flag} {path} {what}, not a directory")
            return
