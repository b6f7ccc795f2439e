"""Goal images from the expert: what "done" looks like for this episode, in latent space.

From the episode's start state the privileged expert is run on a saved copy of the physics
until the task is solved (reacher: the fingertip is inside the target); that moment is
rendered and encoded into `z_goal`, and the start state is restored exactly, so the
planner then starts the real episode from where it began. The expert never acts in the
evaluated episode: it only shows the planner where to go.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from train_robots.common.encoders import Encoder
from train_robots.common.envs import ControlEnv
from train_robots.common.experts import Expert, make_expert
from train_robots.common.runtime import UserError

DEFAULT_FRAME_SIZE = 128
"""Size of the goal frame rendered for people when the encoder reads no pixels (`state`)."""


class GoalUnreachable(UserError, RuntimeError):
    """The expert never solved the task from this start state, so there is no goal image."""


@dataclass
class Goal:
    z: np.ndarray
    """The goal latent [D] float32, from the same encoder the planner sees."""
    frame: np.ndarray
    """RGB uint8 [H, W, 3] of the goal moment, for people to look at."""
    steps: int
    """Agent steps the expert needed to reach it."""
    state: np.ndarray
    """The goal's physics state (`env.get_state()`)."""


def goal_from_expert(
    env: ControlEnv,
    encoder: Encoder,
    max_steps: int | None = None,
    settle_steps: int = 0,
    frame_size: int | None = None,
    at_rest: bool = True,
    expert: Expert | None = None,
) -> Goal:
    """Run the expert from `env`'s current state until a step is solved, encode that moment,
    and restore the current state.

    `settle_steps` keeps the expert running that many more steps after the first solved one
    (still inside the target). `at_rest` zeroes the joint velocities of the goal moment: a
    goal is a pose. A frame shows no velocity anyway, but a proprioceptive latent (`state`)
    does, and the expert arrives fast and then chatters (+-3 rad/s from step to step), so an
    unrested goal would ask the planner to match an arbitrary velocity too. `expert` defaults to
    `make_expert(env.name)` (a trained one read from the default --ckpt-dir).
    """
    max_steps = env.spec.episode_steps if max_steps is None else max_steps
    start = env.get_state()
    expert = make_expert(env.name) if expert is None else expert
    try:
        steps = _run_until_solved(env, expert, max_steps)
        state = env.get_state()
        for _ in range(settle_steps):
            if not env.step(expert.act(env, steps)).solved:
                break  # it left the target: keep the last solved moment
            steps, state = steps + 1, env.get_state()
    finally:
        env.set_state(start)
    if at_rest:
        nq, nv = env.physics.model.nq, env.physics.model.nv
        state = state.copy()
        state[nq : nq + nv] = 0.0  # get_state() is [qpos, qvel, act, task extras]
    return goal_at(env, encoder, state, steps, frame_size)


def goal_from_pose(env: ControlEnv, encoder: Encoder, rng: np.random.Generator, frame_size: int | None = None) -> Goal:
    """A goal image of a random reachable pose (every joint uniform in its range, at rest), not
    only the expert's "inside the target" moment: does a planner reach and hold any pose it is shown?"""
    return goal_at(env, encoder, env.random_pose(rng), 0, frame_size)


def goal_at(env: ControlEnv, encoder: Encoder, state: np.ndarray, steps: int, frame_size: int | None = None) -> Goal:
    """The goal of a physics state: its latent (a still clip) and frame; `env` is left as it was."""
    frame_size = frame_size or encoder.info.image_size or DEFAULT_FRAME_SIZE
    start = env.get_state()
    try:
        env.set_state(state)
        z_goal = encoder.encode(encoder.observe(env)[None])[0].astype(np.float32)
        frame = env.render(frame_size)
    finally:
        env.set_state(start)
    return Goal(z=z_goal, frame=frame, steps=steps, state=state)


def _run_until_solved(env: ControlEnv, expert, max_steps: int) -> int:
    for step in range(max_steps):
        if env.step(expert.act(env, step)).solved:
            return step + 1
    raise GoalUnreachable(
        f"the {type(expert).__name__} expert did not solve {env.name} within {max_steps} steps from this "
        "start state, so no goal image can be made; a planner toward an expert goal needs a task "
        "whose expert solves it (e.g. reacher-easy)"
    )
