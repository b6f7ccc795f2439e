"""The Modal image, volumes and GPU settings every phase script reuses.

Defining these needs neither credentials nor network, so every script (and the tests)
can import its Modal app offline. `modal run train_robots/<script>.py ...` then builds
the image once, mounts the volumes and runs the same `main(config)` as the local path.
"""

from __future__ import annotations

from pathlib import PurePosixPath

import modal

from train_robots.common.runtime import REPO_ROOT

DEFAULT_GPU = "A10"
"""Modal's name for the A10G class the roadmap's 100k-transition run used (24 GB)."""

REMOTE_ROOT = PurePosixPath("/vol")
REMOTE_DATA_DIR = REMOTE_ROOT / "data"
REMOTE_CKPT_DIR = REMOTE_ROOT / "checkpoints"
HF_CACHE_DIR = PurePosixPath("/hf-cache")

data_volume = modal.Volume.from_name("train-robots-data", create_if_missing=True)
"""Holds data/ and checkpoints/ between runs (`modal volume get train-robots-data ...`)."""
hf_cache_volume = modal.Volume.from_name("train-robots-hf-cache", create_if_missing=True)
"""The Hugging Face cache, so the V-JEPA 2 weights are downloaded once."""

VOLUMES = {str(REMOTE_ROOT): data_volume, str(HF_CACHE_DIR): hf_cache_volume}

image = (
    modal.Image.debian_slim(python_version="3.11")
    # EGL + GL dispatch libraries: MuJoCo renders headless through the NVIDIA driver.
    .apt_install("libegl1", "libgl1", "libglvnd0", "libopengl0")
    .pip_install_from_requirements(str(REPO_ROOT / "requirements.txt"))
    .env({"MUJOCO_GL": "egl", "HF_HOME": str(HF_CACHE_DIR), "PYTHONUNBUFFERED": "1"})
    .add_local_python_source("train_robots")
)
