"""Probe a V-JEPA encoder on a frames cache: encode every (previous, current) clip of some
episodes, pool the tokens each way asked for, and score a ridge read-out of the true state on
held-out episodes (common/probe.py) and, for the poolings asked for, an MLP one (common/mlp_probe.py).

The quantities read out are the task's observation and, where the task names probe geoms, their
(x, y) place in the world. The second set tells apart two causes the first confounds: reacher's
`to_target` (target minus fingertip) is small once the arm is there, so a latent that places the
ball well and the thin fingertip roughly scores about 0 on it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from train_robots.common.envs import ControlEnv
from train_robots.common.frames import clip_pairs
from train_robots.common.mlp_probe import mlp_probe
from train_robots.common.probe import ProbeResult, ridge_probe
from train_robots.common.task_encoder import encode_clips

MLP_PREFIX = "mlp-"
"""Results of the MLP read-out are keyed mlp-<pooling>; the ridge read-out's by the pooling alone."""

_FLAT_KEY = re.compile(r"^probe_((?:mlp-)?(?:state|mean\+grid\d+|mean|grid\d+))_(.+)$")
"""probe_<[mlp-]pooling>_<quantity>, as `flat_r2` writes it (the state probe's "pooling" is `state`)."""

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


@dataclass
class ProbeTargets:
    """What a probe reads out of the latent of each stored state."""

    values: np.ndarray
    """float32 [E, T+1, Q]"""
    names: list[str]
    """A name per quantity (Q)."""

    def rows(self, episodes: np.ndarray) -> np.ndarray:
        """[len(episodes) * T, Q]: steps 1..T of `episodes`, in (episode, step) order (as the clips)."""
        return self.values[episodes, 1:].reshape(-1, self.values.shape[-1])


def probe_targets(env: ControlEnv, observations: np.ndarray, physics: np.ndarray) -> ProbeTargets:
    """The observation of each stored state [E, T+1, obs] and, for a task with probe geoms, where
    they are in the world, read from the exact physics states [E, T+1, P]."""
    names = env.observation_names()
    if not env.spec.probe_geoms:
        return ProbeTargets(observations.astype(np.float32), names)
    if physics.shape[:2] != observations.shape[:2]:
        raise ValueError(f"probe targets: {observations.shape[:2]} observations but {physics.shape[:2]} states")
    positions = np.empty(physics.shape[:2] + (2 * len(env.spec.probe_geoms),), dtype=np.float32)
    for index in np.ndindex(*physics.shape[:2]):
        env.set_state(physics[index])
        positions[index] = env.geom_positions()
    values = np.concatenate([observations.astype(np.float32), positions], axis=-1)
    return ProbeTargets(values, names + env.geom_position_names())


def probe_poolings(
    model,
    processor,
    frames: np.ndarray,
    targets: ProbeTargets,
    episodes: np.ndarray,
    test_episodes: np.ndarray,
    poolings: list[str],
    batch_size: int,
    device: torch.device,
    seed: int = 0,
    mlp_poolings: tuple[str, ...] = (),
) -> dict[str, ProbeResult]:
    """Held-out R² per quantity for each pooling of the latents of `frames` [E, T+1, H, W, 3];
    `test_episodes` (a subset of `episodes`) are scored, the others fit the read-out. A ridge
    read-out for every pooling, keyed by its name; an MLP one too for each of `mlp_poolings`,
    keyed `mlp-<pooling>`."""
    latents = encode_episodes(model, processor, frames, episodes, poolings, batch_size, device)
    return read_out(latents, targets, episodes, test_episodes, seed, mlp_poolings)


def read_out(
    latents: dict[str, np.ndarray],
    targets: ProbeTargets,
    episodes: np.ndarray,
    test_episodes: np.ndarray,
    seed: int = 0,
    mlp_poolings: tuple[str, ...] = (),
) -> dict[str, ProbeResult]:
    """The ridge (and, for `mlp_poolings`, MLP) probes of latents {pooling: [len(episodes) * T, D]}."""
    episode = np.repeat(episodes, targets.values.shape[1] - 1)
    y = targets.rows(episodes)
    results = {name: ridge_probe(z, y, episode, test_episodes, targets.names, seed=seed) for name, z in latents.items()}
    for name in mlp_poolings:
        results[f"{MLP_PREFIX}{name}"] = mlp_probe(latents[name], y, episode, test_episodes, targets.names, seed=seed)
    return results


def flat_r2(results: dict[str, ProbeResult], prefix: str = "probe") -> dict[str, float]:
    """{f"{prefix}_{pooling}_{quantity}": R²} for a flat metrics file."""
    return {f"{prefix}_{p}_{q}": v for p, result in results.items() for q, v in result.r2.items()}


PROBE_FILES = ("probe.json", "pretrain.json")
"""Where a checkpoint folder keeps a probe: probe_encoder.py's file, else pretraining's final probe."""


def read_probe(folder: Path) -> dict | None:
    """{"source": file name, "r2": {pooling: {quantity: R²}}} of the folder's probe, or None."""
    for name in PROBE_FILES:
        path = Path(folder) / name
        if not path.exists():
            continue
        metrics = json.loads(path.read_text())
        r2: dict[str, dict[str, float]] = {}
        for key, value in metrics.items():
            match = _FLAT_KEY.match(key)
            if match:
                r2.setdefault(match.group(1), {})[match.group(2)] = value
        if r2:
            return {"source": name, "r2": r2}
    return None


def probe_markdown(probe: dict | None) -> str:
    """The probe as a markdown table (a row per pooling, a column per quantity); empty if None."""
    if not probe:
        return ""
    names = list(next(iter(probe["r2"].values())))
    lines = [
        f"Probe of the latent (held-out R², `{probe['source']}`; ridge: linear, MLP: what a controller's MLP can read):",
        "",
        "| read-out | pooling | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for key, r2 in probe["r2"].items():
        reader, pooling = ("MLP", key[len(MLP_PREFIX) :]) if key.startswith(MLP_PREFIX) else ("ridge", key)
        values = " | ".join(f"{r2.get(n, float('nan')):.2f}" for n in names)
        lines.append(f"| {reader} | {pooling} | {values} |")
    return "\n".join(lines) + "\n"
