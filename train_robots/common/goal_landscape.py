"""The goal cost's landscape on real frames: does the latent distance to a goal image tell a pose
near the goal from one far away, and a pose inside the target from one outside?

A planner toward a goal image ranks imagined futures by their latent distance to the goal's
latent. Even a perfect world model cannot make that ranking better than the distance between
the *true* latents of those futures. This module measures that ceiling: around the expert's goal
pose of an episode it sets the arm to poses a known angle away (every direction of the joint
space equally), at rest, renders and encodes each, and relates the latent distance to the pose
error and to being inside the target. It also encodes the goal pose as the robot sees it while
moving through it (a clip of the previous and current frame), the distance a moving arm reads at
the very goal: the floor below which a held pose cannot be told from a passing one.

The distance is the planner's default cost up to one global scale (mean |z - z_goal| over the
goal dimensions), divided by its median between the goal and poses `FAR_RAD` away, so that 1
reads "as far as an unrelated pose" for every encoder.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from train_robots.common.encoders import Encoder
from train_robots.common.envs import SOLVED_REWARD, ControlEnv
from train_robots.common.goals import Goal

OFFSETS_RAD = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
"""Distances in joint space (radians, Euclidean over the hinge joints) of the poses around a goal."""

FAR_RAD = 3.0
"""The offset whose median latent distance is the landscape's unit."""

SPEEDS_RAD = (0.05, 0.1, 0.2)
"""Joint-space distances between the previous frame's pose and the goal pose, for the clips of an
arm moving through the goal (reacher: an agent step at 1.25 / 2.5 / 5 rad/s)."""


@dataclass
class Landscape:
    """Poses around one or more goals: a row per pose."""

    offset: np.ndarray
    """The joint-space offset asked for (radians) [N]."""
    pose_error: np.ndarray
    """Mean absolute hinge-angle difference to the goal pose actually set (radians) [N]."""
    in_target: np.ndarray
    """Whether the task counts the pose as solved (reacher: fingertip inside the target) [N]."""
    distance: np.ndarray
    """Latent distance to the goal's latent, in units of the median at `FAR_RAD` [N]."""
    moving: np.ndarray
    """Latent distance of the goal pose seen moving through it, per speed of `SPEEDS_RAD`,
    same units [len(SPEEDS_RAD)] (empty for encoders that read no motion)."""
    unit: float
    """The unit in the encoder's raw latent: median mean |z - z_goal| at `FAR_RAD`."""


def latent_distance(z: np.ndarray, z_goal: np.ndarray, dims: np.ndarray | None) -> np.ndarray:
    """Mean absolute difference over the goal dimensions (all when `dims` is None) -> [...]."""
    diff = np.abs(np.asarray(z, np.float64) - np.asarray(z_goal, np.float64))
    return (diff if dims is None else diff[..., np.asarray(dims, bool)]).mean(-1)


def unit_directions(count: int, dims: int, rng: np.random.Generator) -> np.ndarray:
    """`count` directions uniform on the unit sphere of a `dims`-dimensional joint space [count, dims]."""
    if count < 1:
        raise ValueError(f"need at least one direction, got {count}")
    v = rng.normal(size=(count, dims))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def pose_at(env: ControlEnv, goal_state: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """The goal state with its hinge angles moved by `shift` (limited joints clipped to their
    range), at rest; everything else (reacher's target) as in the goal."""
    return env.pose_with(goal_state, env.hinge_angles(goal_state) + shift)


def landscape_of(env: ControlEnv, encoder: Encoder, goal: Goal, directions: np.ndarray) -> Landscape:
    """The landscape around one goal, in units of its own median distance at `FAR_RAD`."""
    offset, error, solved, distance, moving = around_goal(env, encoder, goal, directions)
    unit = in_units(distance, offset)
    if unit <= 0:
        raise ValueError("the encoder maps poses 3 rad apart to the goal's latent: a constant encoder")
    return Landscape(offset, error, solved, distance / unit, moving / unit, unit)


def around_goal(
    env: ControlEnv, encoder: Encoder, goal: Goal, directions: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Poses at every offset of `OFFSETS_RAD` along every direction around `goal`, and the goal
    pose seen moving through it along each direction at each of `SPEEDS_RAD`.

    Returns (offset [N], pose_error [N], in_target [N], raw distance [N], raw moving distance
    [len(SPEEDS_RAD)] or empty); `env` is left in the state it was."""
    start = env.get_state()
    offsets, errors, solved, observations = [], [], [], []
    moving = np.zeros(0)
    try:
        for direction in directions:
            for offset in OFFSETS_RAD:
                env.set_state(pose_at(env, goal.state, offset * direction))
                offsets.append(offset)
                errors.append(env.pose_error(goal.state))
                solved.append(env.reward_now() >= SOLVED_REWARD)
                observations.append(encoder.observe(env))
        if encoder.uses_pixels:
            env.set_state(goal.state)
            current = encoder.observe(env)
            clips = []
            for direction in directions:
                for speed in SPEEDS_RAD:
                    env.set_state(pose_at(env, goal.state, -speed * direction))
                    clips.append(encoder.motion_inputs(encoder.observe(env)[None], current[None])[0])
            z_moving = encoder.encode(np.stack(clips)).reshape(len(directions), len(SPEEDS_RAD), -1)
            moving = latent_distance(z_moving, goal.z, encoder.goal_dims).mean(0)
    finally:
        env.set_state(start)
    z = encoder.encode(np.stack(observations))
    distance = latent_distance(z, goal.z, encoder.goal_dims)
    return np.array(offsets), np.array(errors), np.array(solved), distance, moving


def in_units(distance: np.ndarray, offset: np.ndarray) -> float:
    """The landscape's unit: the median distance at `FAR_RAD`."""
    far = distance[np.isclose(offset, FAR_RAD)]
    if not far.size:
        raise ValueError(f"no pose at the unit offset {FAR_RAD} rad")
    return float(np.median(far))


def rank_auc(low: np.ndarray, high: np.ndarray) -> float:
    """P(a value of `low` is below a value of `high`), ties counting a half (the Mann-Whitney AUC);
    nan when either is empty."""
    if not low.size or not high.size:
        return float("nan")
    below = (low[:, None] < high[None, :]).mean()
    ties = (low[:, None] == high[None, :]).mean()
    return float(below + 0.5 * ties)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties)."""
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


def pooled(parts: list[Landscape], name: str) -> np.ndarray:
    """One field of every goal's landscape, end to end."""
    return np.concatenate([getattr(p, name) for p in parts])


def summarize(parts: list[Landscape]) -> dict:
    """Flat figures over every goal: how the distance follows the pose error (Spearman), tells the
    target from outside it (AUC per goal, averaged over goals that have both), its median per
    offset and the moving goal's median per speed."""
    offset, error, distance = (pooled(parts, name) for name in ("offset", "pose_error", "distance"))
    # The goal itself (offset 0) sits at distance 0 by construction: leave it out of the ranks.
    away = offset > 0
    aucs = [rank_auc(p.distance[p.in_target & (p.offset > 0)], p.distance[~p.in_target]) for p in parts]
    aucs = [a for a in aucs if np.isfinite(a)]
    figures = {
        "goals": len(parts),
        "poses": int(away.sum()),
        "spearman_distance_vs_pose_error": spearman(distance[away], error[away]),
        "auc_in_target": float(np.mean(aucs)) if aucs else float("nan"),
        "goals_with_auc": len(aucs),
        "in_target_share": float(pooled(parts, "in_target")[away].mean()),
        "distance_unit_raw": float(np.mean([p.unit for p in parts])),
    }
    for value in OFFSETS_RAD[1:]:
        figures[f"distance_at_{value:g}rad"] = float(np.median(distance[np.isclose(offset, value)]))
    if parts[0].moving.size:
        moving = np.median(np.stack([p.moving for p in parts]), axis=0)
        for speed, value in zip(SPEEDS_RAD, moving, strict=True):
            figures[f"moving_distance_at_{speed:g}rad"] = float(value)
    return figures


def plot_landscape(parts: list[Landscape], title: str):
    """Latent distance against pose error (each pose a dot, inside the target in colour), the
    median per offset as a line, the moving goal's medians as dashed lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    error, distance, inside, offset = (pooled(parts, n) for n in ("pose_error", "distance", "in_target", "offset"))
    ax.scatter(error[~inside], distance[~inside], s=6, alpha=0.35, color="0.5", label="outside the target")
    ax.scatter(error[inside], distance[inside], s=8, alpha=0.7, color="tab:green", label="inside the target")
    medians = [(np.median(error[offset == o]), np.median(distance[offset == o])) for o in OFFSETS_RAD]
    ax.plot(*zip(*medians, strict=True), color="k", lw=1.5, label="median per offset")
    if parts[0].moving.size:
        moving = np.median(np.stack([p.moving for p in parts]), axis=0)
        for speed, value in zip(SPEEDS_RAD, moving, strict=True):
            ax.axhline(value, ls="--", lw=1, color="tab:red", alpha=0.4 + speed)
        ax.plot([], [], ls="--", color="tab:red", label="the goal pose, moving through it")
    ax.set_xlabel("pose error to the goal (mean |joint angle difference|, rad)")
    ax.set_ylabel(f"latent distance to the goal (1 = median at {FAR_RAD:g} rad)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
