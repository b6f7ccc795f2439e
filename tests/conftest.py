"""Shared fixtures: tiny datasets on the smoke preset, offline Hugging Face."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ["HF_HUB_OFFLINE"] = "1"  # no test may reach the network
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pytest  # noqa: E402

from train_robots import generate_and_encode_modal as generate  # noqa: E402


def smoke_generate_config(data_dir: Path, encoder: str = "state", **overrides) -> generate.Config:
    return generate.Config(
        task="reacher-easy", encoder=encoder, preset="smoke", data_dir=data_dir, device="cpu", **overrides
    )


@pytest.fixture(scope="session")
def state_dataset(tmp_path_factory) -> Path:
    """A smoke-preset state-encoder dataset, generated once per test session."""
    root = tmp_path_factory.mktemp("data")
    return generate.main(smoke_generate_config(root))


@pytest.fixture(scope="session")
def smoke_dynamics(state_dataset, tmp_path_factory) -> tuple[Path, Path]:
    """(data_dir, ckpt_dir) with a smoke-preset state world model trained by train_dynamics.main."""
    from train_robots import train_dynamics

    ckpt_dir = tmp_path_factory.mktemp("ckpt")
    data_dir = state_dataset.parents[1]
    train_dynamics.main(
        train_dynamics.Config(
            task="reacher-easy", encoder="state", preset="smoke", data_dir=data_dir, ckpt_dir=ckpt_dir, device="cpu"
        )
    )
    return data_dir, ckpt_dir
