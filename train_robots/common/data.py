"""The dataset on disk: shards of whole episodes plus one meta.json per folder.

A folder `data/<task>/<encoder>/` holds `meta.json` and `shard-00000.npz`, ... Each shard
holds E episodes of T agent steps:

    z              float16 [E, T+1, D]  latents of every observation
    action         float32 [E, T, A]    the action taken (expert or random)
    reward         float32 [E, T]
    discount       float32 [E, T]
    expert_action  float32 [E, T, A]    what the expert would have done (BC targets)
    is_random      bool    [E, T]       whether `action` was the random exploratory one
    physics        float64 [E, T+1, P]  exact simulator states (goals, replays)
    frame          uint8   [E, T+1, h, w, 3]  optional thumbnails

Shards are written to a temporary name and renamed, so a killed run never leaves a file
that looks finished. Saving and loading check every key, dtype and shape against meta.json,
and that float fields are finite, and name the file and the field (and the episode) on any
mismatch.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from train_robots.common.checkpoint import encoder_mismatch
from train_robots.common.runtime import UserError, atomic_write_bytes, write_json

META_NAME = "meta.json"
SHARD_GLOB = "shard-*.npz"

# key -> (dtype, dimension names); E episodes, T steps, D latent, A action, P physics.
SHARD_SCHEMA: dict[str, tuple[np.dtype, tuple[str, ...]]] = {
    "z": (np.dtype(np.float16), ("E", "T+1", "D")),
    "action": (np.dtype(np.float32), ("E", "T", "A")),
    "reward": (np.dtype(np.float32), ("E", "T")),
    "discount": (np.dtype(np.float32), ("E", "T")),
    "expert_action": (np.dtype(np.float32), ("E", "T", "A")),
    "is_random": (np.dtype(np.bool_), ("E", "T")),
    "physics": (np.dtype(np.float64), ("E", "T+1", "P")),
}
OPTIONAL_SCHEMA = {"frame": (np.dtype(np.uint8), ("E", "T+1", "h", "w", "c"))}

# Meta fields that must agree before new shards may join a folder.
IDENTITY_FIELDS = (
    "task",
    "encoder",
    "latent_dim",
    "image_size",
    "action_dim",
    "physics_dim",
    "episode_steps",
    "shard_episodes",
    "epsilon",
    "seed",
    "action_repeat",
)


class DataError(UserError, ValueError):
    """A dataset file that does not match the contract; the message names file and field."""


def shard_path(folder: Path, index: int) -> Path:
    return Path(folder) / f"shard-{index:05d}.npz"


def save_shard(path: Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Validate and write one shard atomically."""
    _check_arrays(arrays, meta, where=str(path))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(Path(path), buffer.getvalue())


def load_shard(path: Path, meta: dict) -> dict[str, np.ndarray]:
    """Read one shard and check it against the folder's meta."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise DataError(f"{path}: cannot be read as a shard (.npz): {err}") from err
    _check_arrays(arrays, meta, where=str(path))
    return arrays


def _check_arrays(arrays: dict[str, np.ndarray], meta: dict, where: str) -> None:
    missing = [k for k in SHARD_SCHEMA if k not in arrays]
    if missing:
        raise DataError(f"{where}: missing field(s) {missing}")
    unknown = [k for k in arrays if k not in SHARD_SCHEMA and k not in OPTIONAL_SCHEMA]
    if unknown:
        raise DataError(f"{where}: unknown field(s) {unknown}")
    z = arrays["z"]
    if z.ndim != 3:
        raise DataError(f"{where}: field 'z' must be [E, T+1, D], got shape {z.shape}")
    sizes = {
        "E": z.shape[0],
        "T": z.shape[1] - 1,
        "T+1": z.shape[1],
        "D": meta["latent_dim"],
        "A": meta["action_dim"],
        "P": meta["physics_dim"],
    }
    for key, array in arrays.items():
        dtype, dims = SHARD_SCHEMA.get(key) or OPTIONAL_SCHEMA[key]
        if array.dtype != dtype:
            raise DataError(f"{where}: field {key!r} has dtype {array.dtype}, expected {dtype}")
        expected = tuple(sizes.get(d, -1) for d in dims)
        if array.ndim != len(dims) or any(e not in (-1, s) for e, s in zip(expected, array.shape)):
            shape = tuple(sizes.get(d, d) for d in dims)
            raise DataError(f"{where}: field {key!r} has shape {array.shape}, expected {shape}")
    if sizes["T"] != meta["episode_steps"]:
        raise DataError(f"{where}: episodes have {sizes['T']} steps, meta.json says {meta['episode_steps']}")
    for key, array in arrays.items():
        if array.dtype.kind == "f":
            _check_finite(key, array, where)


def _check_finite(key: str, array: np.ndarray, where: str) -> None:
    """Refuse NaN/inf in a float field [E, T(+1), ...]: it would only surface later, as a NaN loss."""
    bad_steps = ~np.isfinite(array).all(axis=tuple(range(2, array.ndim)))  # [E, T(+1)]
    bad_episodes = np.flatnonzero(bad_steps.any(1))
    if bad_episodes.size:
        episode = int(bad_episodes[0])
        step = int(np.flatnonzero(bad_steps[episode])[0])
        raise DataError(
            f"{where}: field {key!r} holds NaN or inf in episode {episode} of this shard (first at step {step}; "
            f"{bad_episodes.size} of {array.shape[0]} episodes affected); regenerate it"
        )


def recorded_expert(meta: dict) -> str | None:
    """The id of the expert that collected a dataset. Folders written before ids were recorded name
    their scripted expert only, and a scripted expert's name is its id."""
    return meta.get("expert_id", meta.get("expert"))


DEFAULT_SCRIPTED_EXPERT = "ReacherExpert"
"""The id of reacher's scripted expert at its default gains (`experts.ReacherExpert`)."""


def expert_fields(meta: dict, key: str = "expert") -> dict:
    """{key: the expert id of a dataset's meta} for identities derived from the dataset (frames
    caches, pretrained encoders). Empty for reacher's default scripted expert: those identities
    named no expert before, and every one of them was made from its data, so they stay valid."""
    expert = recorded_expert(meta)
    return {} if expert in (None, DEFAULT_SCRIPTED_EXPERT) else {key: expert}


def read_meta(folder: Path) -> dict:
    path = Path(folder) / META_NAME
    if not path.exists():
        raise DataError(f"{path}: not found; generate data first (train_robots/generate_and_encode_modal.py)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: not valid JSON ({err})") from err


def ensure_meta(folder: Path, meta: dict) -> None:
    """Write meta.json for a new folder, or refuse to mix with an existing, different one."""
    folder = Path(folder)
    path = folder / META_NAME
    if path.exists():
        existing = read_meta(folder)
        diffs = [
            f"{k}: folder has {existing.get(k)!r}, this run has {meta.get(k)!r}"
            for k in IDENTITY_FIELDS
            if existing.get(k) != meta.get(k)
        ]
        if recorded_expert(existing) != recorded_expert(meta):
            diffs.append(f"expert: folder has {recorded_expert(existing)!r}, this run has {recorded_expert(meta)!r}")
        if diffs:
            raise DataError(
                f"{path}: this folder holds a different dataset; refusing to mix them.\n  "
                + "\n  ".join(diffs)
                + "\nUse another --data-dir, or delete the folder to start over."
            )
        # A resumed or repeated run keeps the folder's meta (its code version is the one that
        # started the data): rewriting it would look like new data to every later phase.
        merged = {**meta, **existing}
        if merged != existing:
            write_json(path, merged)
        return
    write_json(path, meta)


@dataclass
class Dataset:
    """All episodes of a folder, concatenated; latents as float32."""

    meta: dict
    z: np.ndarray  # [N, T+1, D]
    action: np.ndarray  # [N, T, A]
    reward: np.ndarray  # [N, T]
    discount: np.ndarray  # [N, T]
    expert_action: np.ndarray  # [N, T, A]
    is_random: np.ndarray  # [N, T]
    physics: np.ndarray  # [N, T+1, P]

    @property
    def episodes(self) -> int:
        return self.z.shape[0]

    def subset(self, episodes: np.ndarray) -> Dataset:
        take = {k: getattr(self, k)[episodes] for k in SHARD_SCHEMA}
        return Dataset(meta=self.meta, **take)


def load_dataset(folder: Path, expect_encoder: dict | None = None, expect_expert: str | None = None) -> Dataset:
    """Every shard of a folder; `expect_encoder` (an EncoderInfo dict, or part of one) guards against a wrong
    folder, `expect_expert` (an expert's id) against data another expert collected."""
    folder = Path(folder)
    meta = read_meta(folder)
    if expect_expert is not None and recorded_expert(meta) != expect_expert:
        raise DataError(
            f"{folder / META_NAME}: collected by the expert {recorded_expert(meta)!r}, but the current expert of "
            f"{meta.get('task')} is {expect_expert!r}; regenerate the data with it (delete {folder} first) "
            "or run with the expert that collected it (reacher's scripted one: --expert-velocity-gain)"
        )
    if expect_encoder is not None and (diffs := encoder_mismatch(meta["encoder"], expect_encoder)):
        raise DataError(
            f"{folder / META_NAME}: made with another encoder than this run's ({'; '.join(diffs)}); "
            "regenerate the data or match the flags"
        )
    paths = sorted(folder.glob(SHARD_GLOB))
    if not paths:
        raise DataError(f"{folder}: no shards (shard-*.npz); generate data first")
    shards = [load_shard(p, meta) for p in paths]
    cat = {k: np.concatenate([s[k] for s in shards]) for k in SHARD_SCHEMA}
    cat["z"] = cat["z"].astype(np.float32)
    return Dataset(meta=meta, **cat)


def dataset_dir(data_dir: Path, task: str, encoder: str) -> Path:
    return Path(data_dir) / task / encoder
