"""Frames of a dataset's episodes, re-rendered from the exact physics states its shards keep.

The cache `data/<task>/frames-<size>px/` holds `frames.npz` (`frames` uint8 [E, T+1, size,
size, 3], the task camera's view of every stored state, and `state` float32 [E, T+1, Q], the
task's observation vector in that state: what a probe of the frames' latents should recover)
and `meta.json` naming the source dataset.
`meta.json` is written last, so a folder without it is unfinished and is rendered again. A
cache made from another dataset, task or image size is refused, never silently reused.

Clips for V-JEPA are 2 consecutive frames (one tubelet): step t's clip is (frame t-1,
frame t), so the encoder sees the motion into the current state.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from train_robots.common.data import DataError, Dataset, dataset_dir, expert_fields, load_dataset, read_meta
from train_robots.common.envs import SHADOW_MAP_SIZE, ControlEnv
from train_robots.common.runtime import atomic_write_bytes, code_version, write_json

FRAMES_NAME = "frames.npz"
META_NAME = "meta.json"
# The fields of the source dataset's meta.json that decide what its frames show (and its expert, below).
SOURCE_FIELDS = ("task", "seed", "episodes", "episode_steps", "epsilon", "physics_dim", "action_repeat")


def frames_dir(data_dir: Path, task: str, image_size: int) -> Path:
    return Path(data_dir) / task / f"frames-{image_size}px"


def load_source_dataset(task: str, preset: str, data_dir: Path, source_dir: Path | None) -> tuple[Dataset, Path]:
    """The episodes to render: `source_dir` or <data-dir>/<task>/state, a dataset of `task` (any
    encoder: only its physics states are used)."""
    folder = Path(source_dir) if source_dir else dataset_dir(data_dir, task, "state")
    make = f"python train_robots/generate_and_encode_modal.py --task {task} --encoder state --preset {preset}"
    if not (folder / META_NAME).exists():
        raise DataError(f"{folder}: no dataset to render frames from (no {META_NAME}); make it with `{make}` (seconds)")
    data = load_dataset(folder)
    if data.meta["task"] != task:
        raise DataError(
            f"{folder / META_NAME}: holds {data.meta['task']!r} episodes, but --task is {task!r}; pass a "
            f"--source-dir of {task} (made by `{make}`) or the --task of that data"
        )
    return data, folder


def frames_meta(source: Dataset, source_dir: Path, task: str, image_size: int, camera_id: int) -> dict:
    """meta.json of the frames cache rendered from `source` at `image_size`."""
    return {
        "task": task,
        "image_size": image_size,
        "camera_id": camera_id,
        "shadow_map": SHADOW_MAP_SIZE,
        "source_dir": str(source_dir),
        "source": {**{k: source.meta.get(k) for k in SOURCE_FIELDS}, **expert_fields(source.meta)},
        "shape": [source.episodes, source.physics.shape[1], image_size, image_size, 3],
        "code_version": code_version(),
    }


@dataclass
class Frames:
    frames: np.ndarray
    """uint8 [E, T+1, size, size, 3]"""
    state: np.ndarray
    """float32 [E, T+1, Q]: the observation vector (`ControlEnv.observation`) of each frame."""


def render_episodes(env: ControlEnv, physics: np.ndarray, image_size: int) -> Frames:
    """Every state of `physics` [E, T+1, P], restored, rendered and observed."""
    episodes, steps = physics.shape[:2]
    frames = np.empty((episodes, steps, image_size, image_size, 3), dtype=np.uint8)
    state = np.empty((episodes, steps, env.obs_dim), dtype=np.float32)
    for e in tqdm(range(episodes), desc=f"render {image_size}px", unit="ep"):
        for t in range(steps):
            env.set_state(physics[e, t])
            frames[e, t] = env.render(image_size)
            state[e, t] = env.observation()
    return Frames(frames=frames, state=state)


def check_frames_meta(folder: Path, expected: dict) -> None:
    """Refuse a cache whose task, image size, camera, renderer or source dataset differs from `expected`."""
    have = read_meta(folder)
    diffs = [
        f"{k}: cache has {have.get(k)!r}, this run needs {expected[k]!r}"
        for k in ("task", "image_size", "camera_id", "shadow_map", "source", "shape")
        if have.get(k) != expected[k]
    ]
    if diffs:
        raise DataError(
            f"{folder / META_NAME}: these frames were rendered for something else; refusing to use them.\n  "
            + "\n  ".join(diffs)
            + f"\nDelete {folder} to render it again, or pass the --frames-dir (and --image-size) that match."
        )


def load_or_render_frames(env: ControlEnv, source: Dataset, source_dir: Path, folder: Path, image_size: int) -> Frames:
    """The cached frames of `source` at `image_size`, rendering and caching them if absent."""
    folder = Path(folder)
    expected = frames_meta(source, source_dir, env.name, image_size, env.spec.camera_id)
    if (folder / META_NAME).exists():
        check_frames_meta(folder, expected)
        return _load(folder / FRAMES_NAME, expected["shape"], env.obs_dim)
    rendered = render_episodes(env, source.physics, image_size)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, frames=rendered.frames, state=rendered.state)  # mostly flat background: ~40x smaller
    atomic_write_bytes(folder / FRAMES_NAME, buffer.getvalue())
    write_json(folder / META_NAME, expected)  # last: its presence marks a finished cache
    return rendered


def _load(path: Path, shape: list[int], obs_dim: int) -> Frames:
    try:
        with np.load(path, allow_pickle=False) as npz:
            loaded = Frames(frames=npz["frames"], state=npz["state"])
    except (OSError, KeyError, ValueError) as err:
        raise DataError(
            f"{path}: cannot be read as a frames cache ({err}); delete its folder to render it again"
        ) from err
    if list(loaded.frames.shape) != shape or loaded.frames.dtype != np.uint8:
        raise DataError(f"{path}: frames are {loaded.frames.dtype} {loaded.frames.shape}, expected uint8 {shape}")
    if loaded.state.shape != (*shape[:2], obs_dim):
        raise DataError(f"{path}: state has shape {loaded.state.shape}, expected {(*shape[:2], obs_dim)}")
    return loaded


def clip_pairs(frames: np.ndarray, episodes: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """uint8 clips [B, 2, H, W, 3]: (frame t-1, frame t) for each (episode, t >= 1)."""
    if np.any(steps < 1):
        raise ValueError("a clip needs the previous frame: steps must be >= 1")
    return np.stack([frames[episodes, steps - 1], frames[episodes, steps]], axis=1)


def describe(folder: Path) -> str:
    """One line naming what a frames cache holds (for logs)."""
    meta = json.loads((Path(folder) / META_NAME).read_text())
    return f"{meta['shape'][0]} episodes x {meta['shape'][1]} frames at {meta['image_size']}px of {meta['task']}"
