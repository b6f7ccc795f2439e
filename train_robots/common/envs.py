"""DeepMind Control Suite tasks behind one small interface.

`ControlEnv` wraps a dm_control suite environment with what every phase needs: a seeded
reset, a step that repeats the action (`action_repeat` physics control steps per agent
step, rewards summed), RGB rendering from a fixed camera, the proprioceptive observation
vector, and an exact physics-state save/restore (goal generation and replays use it).
"""

from __future__ import annotations

import os

# EGL renders headless on CPU (Mesa llvmpipe) and GPU; respect a user's own choice.
os.environ.setdefault("MUJOCO_GL", "egl")

from dataclasses import dataclass  # noqa: E402
from importlib.util import find_spec  # noqa: E402

# Triton (imported lazily by torch's compiler, e.g. via transformers) segfaults when it is
# first imported after dm_control has loaded MuJoCo's GL libraries; load it first.
if find_spec("triton") is not None:
    import triton  # noqa: E402, F401

import mujoco  # noqa: E402
import numpy as np  # noqa: E402
from dm_control import suite  # noqa: E402

from train_robots.common.runtime import ConfigError  # noqa: E402


@dataclass(frozen=True)
class TaskSpec:
    """How a task is loaded and stepped."""

    domain: str
    task: str
    action_repeat: int
    """Physics control steps per agent step (the action is held, rewards are summed)."""
    camera_id: int
    """Camera rendered for the encoder."""
    env_steps: int = 1000
    """Control steps in a full episode of the suite task (20 s for these tasks)."""
    goal_images: bool = False
    """Whether its expert ends in a pose that defines success, so a goal image can be taken."""
    has_success: bool = False
    """Whether an episode can succeed (reacher: the fingertip reached the target); locomotion is
    judged by its return alone, and its success rate is reported as n/a."""
    probe_geoms: tuple[str, ...] = ()
    """Geoms whose (x, y) place in the world a latent probe also scores: where the things a
    frame shows are (reacher: the target ball and the fingertip), beside the observation."""

    @property
    def episode_steps(self) -> int:
        """Agent steps in a full episode."""
        return self.env_steps // self.action_repeat


TASKS: dict[str, TaskSpec] = {
    "reacher-easy": TaskSpec(
        "reacher",
        "easy",
        action_repeat=2,
        camera_id=0,
        goal_images=True,
        has_success=True,
        probe_geoms=("target", "finger"),
    ),
    "walker-walk": TaskSpec("walker", "walk", action_repeat=2, camera_id=0),
    "cheetah-run": TaskSpec("cheetah", "run", action_repeat=2, camera_id=0),
}

SHADOW_MAP_SIZE = 1024
"""Pixels of the shadow map a render uses (set before the first render makes the GL context)."""

# A task counts as solved in an episode once one control step earns the full reward of 1.
# For reacher this is "the fingertip is inside the target" (its reward is binary).
SOLVED_REWARD = 1.0


def task_spec(name: str) -> TaskSpec:
    """The spec of a task name, or a clear error listing the known ones."""
    if name not in TASKS:
        raise ConfigError(f"--task {name!r} is unknown; choose one of {sorted(TASKS)}")
    return TASKS[name]


@dataclass
class StepResult:
    reward: float
    """Reward summed over the repeated control steps."""
    discount: float
    solved: bool
    """Whether any of the repeated control steps earned the full reward."""


class ControlEnv:
    """One dm_control task, reset by seed, stepped with action repeat."""

    def __init__(self, task: str):
        self.name = task
        self.spec = task_spec(task)
        # The episode length is counted by the caller; the suite's own limit never ends one.
        self._env = suite.load(
            self.spec.domain,
            self.spec.task,
            task_kwargs={"random": 0, "time_limit": float("inf")},
        )
        # The suite's 2048 px shadow map dominates a software (llvmpipe) render; at 1024 px the
        # frames differ by 0.01 grey levels on average and a render takes 11 ms instead of 16.
        self._env.physics.model.vis.quality.shadowsize = SHADOW_MAP_SIZE
        action_spec = self._env.action_spec()
        self.action_low = action_spec.minimum.astype(np.float32)
        self.action_high = action_spec.maximum.astype(np.float32)
        self.action_dim = int(action_spec.shape[0])
        self.obs_dim = int(self.observation().shape[0])
        self.state_dim = int(self.get_state().shape[0])

    @property
    def physics(self):
        """The MuJoCo physics (privileged: experts and goal generation use it)."""
        return self._env.physics

    @property
    def control_timestep(self) -> float:
        """Seconds of simulated time per control step."""
        return float(self._env.control_timestep())

    def reset(self, seed: int) -> None:
        """Start an episode whose initial state is a function of `seed` alone."""
        self._env.task.random.seed(seed)
        self._env.reset()

    def step(self, action: np.ndarray) -> StepResult:
        action = np.clip(np.asarray(action, dtype=np.float64), self.action_low, self.action_high)
        reward, solved, discount = 0.0, False, 1.0
        for _ in range(self.spec.action_repeat):
            ts = self._env.step(action)
            r = float(ts.reward or 0.0)
            reward += r
            solved |= r >= SOLVED_REWARD
            discount *= float(ts.discount if ts.discount is not None else 1.0)
        return StepResult(reward=reward, discount=discount, solved=solved)

    def reward_now(self) -> float:
        """The task's reward of the current state, without stepping (one control step's worth)."""
        return float(self._env.task.get_reward(self.physics))

    def render(self, size: int) -> np.ndarray:
        """RGB uint8 [size, size, 3] from the task's fixed camera."""
        return self.physics.render(height=size, width=size, camera_id=self.spec.camera_id)

    def observation(self) -> np.ndarray:
        """The task's proprioceptive observation, flattened in the suite's key order.

        Reacher's joint angles are given as (cos, sin) pairs rather than radians: its
        shoulder is unbounded, so the raw angle drifts by multiples of 2 pi out of any
        dataset, while the arm (and every learned model) only depends on it modulo 2 pi.
        """
        return np.concatenate([v.ravel() for v in self._observation_parts().values()])

    def observation_names(self) -> list[str]:
        """A name per entry of `observation()`: the part's key, suffixed with the index in a
        part of several (reacher: cos_position_0 is the shoulder's, _1 the elbow's)."""
        parts = self._observation_parts()
        return [f"{key}_{i}" if v.size > 1 else key for key, v in parts.items() for i in range(v.size)]

    def geom_positions(self) -> np.ndarray:
        """(x, y) in the world of each of the task's `probe_geoms`, flattened: float32 [2 * k]."""
        xpos = self.physics.named.data.geom_xpos
        return np.array([xpos[g][:2] for g in self.spec.probe_geoms], dtype=np.float32).ravel()

    def probe_geoms_in_view(self, size: int) -> bool:
        """Whether every one of the task's `probe_geoms` shows at least one pixel in a `size` px
        frame from the task's camera (reacher's fingertip hides inside the ball once it is there)."""
        segments = self.physics.render(height=size, width=size, camera_id=self.spec.camera_id, segmentation=True)
        shown = set(np.unique(segments[..., 0][segments[..., 1] == mujoco.mjtObj.mjOBJ_GEOM]).tolist())
        return all(self.physics.model.name2id(g, "geom") in shown for g in self.spec.probe_geoms)

    def geom_position_names(self) -> list[str]:
        """A name per entry of `geom_positions()` (target_x, target_y, finger_x, ...)."""
        return [f"{g}_{axis}" for g in self.spec.probe_geoms for axis in "xy"]

    def pose_dims(self) -> np.ndarray:
        """Which entries of `observation()` describe the pose (what one image shows): all but
        the velocities. Goal distances on the state compare these."""
        parts = self._observation_parts()
        return np.concatenate([np.full(v.size, "velocity" not in key) for key, v in parts.items()])

    def _observation_parts(self) -> dict[str, np.ndarray]:
        obs = dict(self._env.task.get_observation(self.physics))
        if self.spec.domain == "reacher":
            angle = np.asarray(obs.pop("position"), dtype=np.float64)
            obs = {"cos_position": np.cos(angle), "sin_position": np.sin(angle), **obs}
        return {key: np.asarray(v, dtype=np.float32) for key, v in obs.items()}

    def hinge_angles(self, state: np.ndarray | None = None) -> np.ndarray:
        """The hinge joints' angles of a state (default: the current one), for pose comparisons."""
        qpos = self.physics.data.qpos if state is None else np.asarray(state)[: self.physics.model.nq]
        return np.asarray(qpos)[self.physics.model.jnt_qposadr[self._hinges()]]

    def pose_error(self, goal_state: np.ndarray) -> float:
        """Mean absolute difference (radians, wrapped to [-pi, pi]) between the current hinge angles
        and those of `goal_state`: how far the arm is from a goal pose."""
        diff = self.hinge_angles() - self.hinge_angles(goal_state)
        return float(np.abs((diff + np.pi) % (2 * np.pi) - np.pi).mean())

    def random_pose(self, rng: np.random.Generator) -> np.ndarray:
        """A state with every hinge at a uniform angle in its range (unlimited: the whole circle),
        at rest, the rest of the state (reacher's target) as now: a reachable goal pose."""
        model = self.physics.model
        ranges = [model.jnt_range[joint] if model.jnt_limited[joint] else (-np.pi, np.pi) for joint in self._hinges()]
        return self.pose_with(self.get_state(), np.array([rng.uniform(low, high) for low, high in ranges]))

    def pose_with(self, state: np.ndarray, angles: np.ndarray) -> np.ndarray:
        """`state` with its hinge angles set to `angles` (limited joints clipped to their range),
        at rest; everything else (reacher's target) unchanged."""
        model, state = self.physics.model, np.array(state, dtype=np.float64)
        for joint, angle in zip(self._hinges(), angles, strict=True):
            if model.jnt_limited[joint]:
                angle = np.clip(angle, *model.jnt_range[joint])
            state[model.jnt_qposadr[joint]] = angle
        state[model.nq : model.nq + model.nv] = 0.0
        return state

    def _hinges(self) -> np.ndarray:
        """Indices of the hinge joints."""
        return np.flatnonzero(self.physics.model.jnt_type == mujoco.mjtJoint.mjJNT_HINGE)

    def get_state(self) -> np.ndarray:
        """Everything needed to restore this exact moment: qpos, qvel, act and task extras."""
        return np.concatenate([self.physics.get_state(), self._task_extras()]).astype(np.float64)

    def set_state(self, state: np.ndarray) -> None:
        """Restore a state from `get_state` (the episode continues from there)."""
        state = np.asarray(state, dtype=np.float64)
        if state.shape != (self.state_dim,):
            raise ValueError(f"physics state of {self.name} has shape ({self.state_dim},), got {state.shape}")
        n = self.physics.get_state().shape[0]
        with self.physics.reset_context():
            self.physics.set_state(state[:n])
            self._set_task_extras(state[n:])

    # Reacher's target lives in the model, not in qpos: carry it with the state.
    def _task_extras(self) -> np.ndarray:
        if self.spec.domain == "reacher":
            return self.physics.named.model.geom_pos["target", ["x", "y"]].copy()
        return np.zeros(0)

    def _set_task_extras(self, extras: np.ndarray) -> None:
        if self.spec.domain == "reacher":
            self.physics.named.model.geom_pos["target", ["x", "y"]] = extras
