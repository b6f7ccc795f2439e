"""Probe a V-JEPA encoder on a frames cache: encode every (previous, current) clip of some
episodes, pool the tokens each way asked for, and score a ridge read-out of the true state on
held-out episodes (common/probe.py)."""

from __future__ import annotations

import numpy as np
import torch

from train_robots.common.frames import Frames, clip_pairs
from train_robots.common.probe import ProbeResult, ridge_probe
from train_robots.common.task_encoder import encode_clips

EPISODES_PER_CHUNK = 8
"""Episodes whose clips are built at once (a chunk of clips, not the whole dataset, in memory)."""


def encode_episodes(
    model, processor, frames: np.ndarray, episodes: np.ndarray, poolings: list[str], batch_size: int, device
) -> dict[str, np.ndarray]:
    """Latents of the clips of steps 1..T of `episodes`, in (episode, step) order."""
    steps = np.arange(1, frames.shape[1])
    parts: dict[str, list[np.ndarray]] = {name: [] for name in poolings}
    for start in range(0, len(episodes), EPISODES_PER_CHUNK):
        chunk = episodes[start : start + EPISODES_PER_CHUNK]
        clips = clip_pairs(frames, np.repeat(chunk, len(steps)), np.tile(steps, len(chunk)))
        for name, latents in encode_clips(model, processor, clips, poolings, batch_size, device).items():
            parts[name].append(latents)
    return {name: np.concatenate(p) for name, p in parts.items()}


def probe_poolings(
    model,
    processor,
    data: Frames,
    episodes: np.ndarray,
    test_episodes: np.ndarray,
    poolings: list[str],
    names: list[str],
    batch_size: int,
    device: torch.device,
    seed: int = 0,
) -> dict[str, ProbeResult]:
    """Held-out R² per state quantity for each pooling; `test_episodes` (a subset of `episodes`)
    are scored, the others fit the read-out."""
    latents = encode_episodes(model, processor, data.frames, episodes, poolings, batch_size, device)
    steps = data.frames.shape[1] - 1
    states = data.state[episodes, 1:].reshape(-1, data.state.shape[-1])
    episode = np.repeat(episodes, steps)
    return {name: ridge_probe(z, states, episode, test_episodes, names, seed=seed) for name, z in latents.items()}


def flat_r2(results: dict[str, ProbeResult], prefix: str = "probe") -> dict[str, float]:
    """{f"{prefix}_{pooling}_{quantity}": R²} for a flat metrics file."""
    return {f"{prefix}_{p}_{q}": v for p, result in results.items() for q, v in result.r2.items()}
