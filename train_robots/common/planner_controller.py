"""A planner behind the Controller protocol of common/rollout.py, for N episodes in lockstep.

At each batch of episode starts the expert shows every episode its goal (common/goals.py);
then, every `replan_every` steps, one batched plan serves all N episodes, and their plans'
next actions run in between. What each episode saw and imagined is kept as an EpisodeTrace
(plots and metrics of mpc_planner.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from train_robots.common.encoders import Encoder
from train_robots.common.envs import ControlEnv
from train_robots.common.experts import Expert
from train_robots.common.goals import Goal, goal_from_expert, goal_from_pose
from train_robots.common.planners import Plan, Planner
from train_robots.common.runtime import ConfigError

GOAL_SOURCES = ("expert", "pose")
POSE_STREAM = 7
"""Random poses draw from their own stream of the episode seed (apart from its initial state)."""


@dataclass
class EpisodeTrace:
    """What a planner saw and imagined in one episode (for plots and metrics)."""

    goal_steps: int
    """Expert steps to the goal from this episode's start."""
    real_distance: list[float] = field(default_factory=list)
    """Goal distance of the real latent at each step (before acting)."""
    imagined_distance: list[float] = field(default_factory=list)
    """Goal distance the plan in force imagined after each executed action (so entry t
    predicts real_distance[t + 1])."""
    best_cost: list[list[float]] = field(default_factory=list)
    """Per plan: the best cost per iteration."""
    mean_cost: list[list[float]] = field(default_factory=list)
    """Per plan: the mean sample cost per iteration."""
    pose_error: list[float] = field(default_factory=list)
    """Mean joint-angle error (rad) to the goal's pose at each step (before acting): does it hold the pose?"""
    holding: list[bool] = field(default_factory=list)
    """Per plan: whether it planned past --handover (without the actor's samples)."""
    plan_seconds: list[float] = field(default_factory=list)
    """Per plan: this episode's share of the batch's planning time (batch time / N)."""
    latents: list[np.ndarray] = field(default_factory=list)
    """The real latents (kept for the first `keep_latents` episodes only)."""
    actions: list[np.ndarray] = field(default_factory=list)


class PlannerController:
    """Goals from the expert at each reset, a new batched plan every `replan_every` steps,
    the plans' next actions in between."""

    def __init__(
        self,
        planner: Planner,
        encoder: Encoder,
        goal_settle_steps: int = 0,
        goal_at_rest: bool = True,
        keep_latents: int = 1,
        goal_source: str = "expert",
        expert: Expert | None = None,
    ):
        """`goal_source`: expert (the solved moment of `expert`, by default the task's) or pose (a
        random reachable pose, seeded by the episode)."""
        if goal_source not in GOAL_SOURCES:
            raise ConfigError(f"--goal-source {goal_source!r} is unknown; choose one of {list(GOAL_SOURCES)}")
        self.planner, self.encoder, self.keep_latents = planner, encoder, keep_latents
        self.goal_options = dict(settle_steps=goal_settle_steps, at_rest=goal_at_rest, expert=expert)
        self.goal_source = goal_source
        self.goals: list[Goal] = []
        self.traces: list[EpisodeTrace] = []
        self._goal_z: np.ndarray | None = None
        self._started = False

    @property
    def uses_goals(self) -> bool:
        """Whether the planner reaches for goal images (objective "goal") or maximises reward alone."""
        return self.planner.cfg.objective == "goal"

    def reset(self, envs: Sequence[ControlEnv], seeds: Sequence[int]) -> None:
        self.planner.reset(seeds)
        self._first = len(self.traces)  # index of this batch's first episode
        self._envs = envs
        if self.uses_goals:
            goals = [self._goal(env, seed) for env, seed in zip(envs, seeds)]
            self.goals += goals
            self.traces += [EpisodeTrace(goal_steps=g.steps) for g in goals]
            self._goal_z = np.stack([g.z for g in goals])
        else:
            self.traces += [EpisodeTrace(goal_steps=0) for _ in envs]
            self._goal_z = None
        self._plan: Plan | None = None
        self._step = 0
        self._started = True

    def _goal(self, env: ControlEnv, seed: int) -> Goal:
        if self.goal_source == "pose":
            return goal_from_pose(env, self.encoder, np.random.default_rng([seed, POSE_STREAM]))
        return goal_from_expert(env, self.encoder, **self.goal_options)

    def act(self, z: np.ndarray) -> np.ndarray:
        if not self._started:
            raise RuntimeError("PlannerController.act called before reset(envs, seeds)")
        every = self.planner.cfg.replan_every
        k, traces = self._step % every, self.traces[self._first :]
        if k == 0:
            self._plan = self.planner.plan(z, self._goal_z, executed=every)
            for i, trace in enumerate(traces):
                trace.best_cost.append(self._plan.best_cost[i].tolist())
                trace.mean_cost.append(self._plan.mean_cost[i].tolist())
                trace.holding.append(bool(self._plan.holding[i]))
                trace.plan_seconds.append(self._plan.seconds / len(traces))
        actions = self._plan.actions[:, k].astype(np.float32)
        real = self.planner.distance(z, self._goal_z) if self.uses_goals else None
        for i, trace in enumerate(traces):
            if real is not None:
                trace.real_distance.append(float(real[i]))
                trace.imagined_distance.append(float(self._plan.imagined_distance[i, k]))
                trace.pose_error.append(self._envs[i].pose_error(self.goals[self._first + i].state))
            if self._first + i < self.keep_latents:
                trace.latents.append(np.asarray(z[i], np.float32))
                trace.actions.append(actions[i])
        self._step += 1
        return actions
