"""Probe a V-JEPA encoder on a frames cache: encode every (previous, current) clip of some
episodes, pool the tokens each way asked for, and score a ridge read-out of the true state on
held-out episodes (common/probe.py) and, for the poolings asked for, an MLP one (common/mlp_probe.py).

The quantities read out are the task's observation and, where the task names probe geoms, their
(x, y) place in the world. The second set tells apart two causes the first confounds: reacher's
`to_target` (target minus fingertip) is small once the arm is there, so a latent that places the
ball well and the thin fingertip roughly scores about 0 on it.

Where the task names probe geoms, every read-out is also scored on the held-out frames where all
of them show (keys `<pooling>@in-view`). On reacher the fingertip hides inside the ball once it
has reached it: in the expert's data that is most frames, where no image can say exactly where
the fingertip is and no controller needs to. The frames that matter for reaching are the others.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from train_robots.common.envs import ControlEnv
from train_robots.common.frames import clip_pairs
from train_robots.common.mlp_probe import mlp_probe
from train_robots.common.probe import ProbeResult, r2_scores, ridge_probe
from train_robots.common.task_encoder import encode_clips

MLP_PREFIX = "mlp-"
"""Results of the MLP read-out are keyed mlp-<pooling>; the ridge read-out's by the pooling alone."""

IN_VIEW = "@in-view"
"""Suffix of the results scored only on held-out frames where every probe geom shows."""

IN_VIEW_SIZE = 64
"""Frame size (px) of the segmentation render that decides whether a probe geom shows. Reacher's
fingertip is hidden by the ball (an occlusion, at any size) or shows as at least a pixel or two."""

_FLAT_KEY = re.compile(rf"^probe_((?:mlp-)?(?:state|mean\+grid\d+|mean|grid\d+)(?:{re.escape(IN_VIEW)})?)_(.+)$")
"""probe_<[mlp-]pooling[@in-view]>_<quantity>, as `flat_r2` writes it (the state probe's "pooling" is `state`)."""

EPISODES_PER_CHUNK = 8
"""Episodes whose clips are built at once (a chunk of clips, not the whole dataset, in memory)."""

RESET_POSE_STREAM = 11
"""The reset poses' seeds and random actions draw from their own stream of --seed (apart from the
data's and evaluation's episode seeds)."""


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
    in_view: np.ndarray | None = None
    """bool [E, T+1]: every probe geom shows in the frame (None: the task names no probe geoms)."""

    def rows(self, episodes: np.ndarray) -> np.ndarray:
        """[len(episodes) * T, Q]: steps 1..T of `episodes`, in (episode, step) order (as the clips)."""
        return self.values[episodes, 1:].reshape(-1, self.values.shape[-1])


@dataclass
class ResetPoses:
    """Fresh starts of a task, each followed by one uniformly random action: two-state "episodes"
    whose clip (start, after the action) shows every pose the task's reset draws, evenly (reacher:
    any arm angles, any target), with some motion. An expert's data shows the arm mostly in the
    target, and a probe fitted on it says more about that data's coverage than about the latent."""

    physics: np.ndarray
    """float64 [N, 2, P]: the exact states, to render and to place the probe geoms."""
    observations: np.ndarray
    """float32 [N, 2, obs]"""


def reset_poses(env: ControlEnv, count: int, seed: int) -> ResetPoses:
    """`count` fresh starts of `env`, seeded by `seed`, each stepped once at a uniform random action."""
    rng = np.random.default_rng([seed, RESET_POSE_STREAM])
    physics = np.empty((count, 2, env.state_dim))
    observations = np.empty((count, 2, env.obs_dim), dtype=np.float32)
    for i in tqdm(range(count), desc="reset poses", unit="pose"):
        env.reset(int(rng.integers(2**31)))
        physics[i, 0], observations[i, 0] = env.get_state(), env.observation()
        env.step(rng.uniform(env.action_low, env.action_high))
        physics[i, 1], observations[i, 1] = env.get_state(), env.observation()
    return ResetPoses(physics=physics, observations=observations)


def probe_targets(env: ControlEnv, observations: np.ndarray, physics: np.ndarray) -> ProbeTargets:
    """The observation of each stored state [E, T+1, obs] and, for a task with probe geoms, where
    they are in the world, read from the exact physics states [E, T+1, P]."""
    names = env.observation_names()
    if not env.spec.probe_geoms:
        return ProbeTargets(observations.astype(np.float32), names)
    if physics.shape[:2] != observations.shape[:2]:
        raise ValueError(f"probe targets: {observations.shape[:2]} observations but {physics.shape[:2]} states")
    positions = np.empty(physics.shape[:2] + (2 * len(env.spec.probe_geoms),), dtype=np.float32)
    in_view = np.empty(physics.shape[:2], dtype=bool)
    for episode in tqdm(range(physics.shape[0]), desc="probe targets", unit="ep"):
        for step in range(physics.shape[1]):
            env.set_state(physics[episode, step])
            positions[episode, step] = env.geom_positions()
            in_view[episode, step] = env.probe_geoms_in_view(IN_VIEW_SIZE)
    values = np.concatenate([observations.astype(np.float32), positions], axis=-1)
    return ProbeTargets(values, names + env.geom_position_names(), in_view)


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
    if targets.in_view is None:
        return results
    test = np.isin(episode, test_episodes)
    shown = targets.in_view[episodes, 1:].reshape(-1)[test]
    if shown.sum() < 2:
        return results  # no held-out frame to score (a tiny smoke run)
    return results | {
        f"{name}{IN_VIEW}": in_view_result(r, y[test], shown, targets.names) for name, r in results.items()
    }


def in_view_share(targets: ProbeTargets, test_episodes: np.ndarray) -> dict[str, float]:
    """{"in_view_share": the share of held-out frames where every probe geom shows}, or {}."""
    if targets.in_view is None:
        return {}
    return {"in_view_share": float(targets.in_view[test_episodes, 1:].mean())}


def in_view_result(result: ProbeResult, truth: np.ndarray, shown: np.ndarray, names: list[str]) -> ProbeResult:
    """`result` re-scored on the held-out rows where `shown` (R² around those rows' own mean)."""
    r2 = r2_scores(truth[shown].astype(np.float64), result.predicted[shown])
    return ProbeResult(r2={n: float(v) for n, v in zip(names, r2)}, predicted=result.predicted[shown])


def flat_r2(results: dict[str, ProbeResult], prefix: str = "probe") -> dict[str, float]:
    """{f"{prefix}_{pooling}_{quantity}": R²} for a flat metrics file."""
    return {f"{prefix}_{p}_{q}": v for p, result in results.items() for q, v in result.r2.items()}


PROBE_FILES = ("probe.json", "pretrain.json")
"""Where a checkpoint folder keeps a probe: probe_encoder.py's file, else pretraining's final probe."""

POSE_PROBE_FILE = "probe-poses.json"
"""probe_encoder.py --frames poses: the probe on fresh starts of the task."""


def read_probe(folder: Path, names: tuple[str, ...] = PROBE_FILES) -> dict | None:
    """{"source": file name, "r2": {pooling: {quantity: R²}}} of the folder's probe (the first of
    `names` that holds one), or None."""
    for name in names:
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
    frames = ", fresh starts of the task" if probe["source"] == POSE_PROBE_FILE else ""
    lines = [
        f"Probe of the latent (held-out R², `{probe['source']}`{frames}; ridge: linear, MLP: what a controller's MLP can read):",
        "",
        "| read-out | pooling | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for key, r2 in probe["r2"].items():
        reader, pooling = ("MLP", key[len(MLP_PREFIX) :]) if key.startswith(MLP_PREFIX) else ("ridge", key)
        values = " | ".join(f"{r2.get(n, float('nan')):.2f}" for n in names)
        lines.append(f"| {reader} | {pooling.replace(IN_VIEW, ', in view')} | {values} |")
    if any(key.endswith(IN_VIEW) for key in probe["r2"]):
        lines += [
            "",
            "_in view_: scored only on the held-out frames where every probe geom shows (reacher: the fingertip is not hidden in the ball).",
        ]
    return "\n".join(lines) + "\n"
