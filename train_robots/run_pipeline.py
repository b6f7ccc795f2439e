"""The whole pipeline, phase after phase, for one task and encoder.

    python train_robots/run_pipeline.py --task reacher-easy --encoder state --preset cpu

Each phase is its own script (run it alone to redo one step); this one calls their
`main(config)` in order with shared flags. Every phase resumes or skips finished work,
so rerunning the same command picks up where a killed run stopped.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from any directory

from train_robots import generate_and_encode_modal as generate  # noqa: E402
from train_robots.common import cli  # noqa: E402
from train_robots.common.encoders import DEFAULT_VJEPA2_ID  # noqa: E402
from train_robots.common.runtime import CKPT_DIR, DATA_DIR  # noqa: E402


@dataclass
class Config:
    task: str = "reacher-easy"
    """Control Suite task: reacher-easy, walker-walk or cheetah-run."""
    encoder: str = "vjepa2"
    """vjepa2 (pretrained), vjepa2-random or state."""
    encoder_id: str = DEFAULT_VJEPA2_ID
    """Hub id or local directory of the pretrained V-JEPA 2."""
    preset: str = "cpu"
    """smoke, cpu or full."""
    seed: int = 0
    """Seed of every phase."""
    device: str = "auto"
    """auto, cpu or cuda."""
    data_dir: Path = DATA_DIR
    """Root of the datasets."""
    ckpt_dir: Path = CKPT_DIR
    """Root of checkpoints and metrics."""


def main(cfg: Config) -> dict:
    shared = dict(task=cfg.task, encoder=cfg.encoder, preset=cfg.preset, seed=cfg.seed, device=cfg.device)
    print("== phases 1-2: see, explore and remember")
    data = generate.main(generate.Config(encoder_id=cfg.encoder_id, data_dir=cfg.data_dir, **shared))
    return {"data": str(data)}


if __name__ == "__main__":
    cli.run(main, Config)
