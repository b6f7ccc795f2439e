"""Experts: the controllers that collect the data, show goals and head the comparison tables.

- reacher: scripted. Damped-least-squares inverse kinematics turns the fingertip-to-target
  error into joint velocities, and a P-controller on joint velocity turns those into torques.
  The damping keeps the arm well behaved near singular (stretched or folded) poses, where
  an undamped Jacobian-transpose controller fails on about a third of episodes.
- walker, cheetah: a SAC actor trained online on the proprioceptive state by
  `train_expert.py`, loaded from `<ckpt-dir>/<task>/expert/expert.pt`; it acts with its
  deterministic mean action. (An open-loop sine gait stood in for these before; it walked
  nowhere, so it is gone rather than kept as a silent substitute for a missing expert.)

Every expert acts as `act(env, step) -> action` and has an `id` that the data it collects
records, so data of one expert is never mixed with, or trained against, another.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np
import torch

from train_robots.common.envs import ControlEnv
from train_robots.common.runtime import CKPT_DIR, ConfigError, UserError
from train_robots.common.sac import SACAgent, load_agent

EXPERT_KIND = "expert"
"""The checkpoint kind of a trained expert (expert.pt)."""
SCRIPTED = {"reacher"}
"""Domains whose expert is scripted; every other one needs a trained expert."""


class MissingExpert(UserError, FileNotFoundError):
    """The task's expert has not been trained (or its training has not finished)."""


@dataclass
class ReacherExpert:
    """Damped-least-squares IK + P control for reacher."""

    position_gain: float = 15.0
    """Desired fingertip velocity per metre of error (1/s)."""
    velocity_gain: float = 1.0
    """Torque per rad/s of joint-velocity error (actions saturate at +-1). The torque is held for a
    whole agent step (0.04 s), and at 1.0 the loop overshoots: in the target the arm shakes in a
    +-1 torque limit cycle at ~3 rad/s rather than resting, so its data shows no arm at rest. 0.2
    comes to rest, as fast to the target; its data lifted pixel BC (98% / 923.6 against 90% / 818.3)
    but not the pixel planner (ROADMAP.md), and every dataset so far keeps this one. Every script
    takes another with `--expert-velocity-gain`."""
    damping: float = 0.05
    """Levenberg-Marquardt damping lambda of the least-squares inverse (metres)."""

    @property
    def id(self) -> str:
        """A scripted expert is its code and gains: the default gains are the bare name (as every
        dataset so far recorded it), other gains name themselves, so their data is told apart."""
        name = type(self).__name__
        if self == ReacherExpert():
            return name
        return f"{name}(position_gain={self.position_gain:g}, velocity_gain={self.velocity_gain:g}, damping={self.damping:g})"

    def act(self, env: ControlEnv, step: int) -> np.ndarray:
        physics = env.physics
        finger = physics.named.data.geom_xpos["finger"][:2]
        target = physics.named.data.geom_xpos["target"][:2]
        jac = _point_jacobian(physics, "finger")[:2]  # [2, nv]: planar arm
        desired_tip_velocity = self.position_gain * (target - finger)
        jjt = jac @ jac.T + self.damping**2 * np.eye(2)
        desired_qvel = jac.T @ np.linalg.solve(jjt, desired_tip_velocity)
        torque = self.velocity_gain * (desired_qvel - physics.data.qvel)
        return np.clip(torque, env.action_low, env.action_high).astype(np.float32)


def _point_jacobian(physics, geom: str) -> np.ndarray:
    """Translational Jacobian [3, nv] of a geom's centre."""
    model, data = physics.model.ptr, physics.data.ptr
    geom_id = physics.model.name2id(geom, "geom")
    jacp = np.zeros((3, model.nv))
    mujoco.mj_jac(model, data, jacp, None, data.geom_xpos[geom_id], model.geom_bodyid[geom_id])
    return jacp


class SACExpert:
    """A SAC actor trained online in the real environment on the proprioceptive state
    (train_expert.py); it acts with its deterministic mean action."""

    def __init__(self, agent: SACAgent, task: str, path: Path):
        self.agent = agent.eval()
        self.task = task
        self.path = path
        self.id = agent_id(agent)
        """`sac:` and a hash of the actor's weights, normalisation and action box: what acts."""

    @torch.inference_mode()
    def act(self, env: ControlEnv, step: int) -> np.ndarray:
        obs = torch.as_tensor(env.observation()[None])
        return self.agent.act(obs, deterministic=True)[0].numpy().astype(np.float32)


def agent_id(agent: SACAgent) -> str:
    """`sac:<hash>` of everything that decides a trained actor's action (not the critics)."""
    digest = hashlib.sha256()
    for key, value in sorted(agent.state_dict().items()):
        if key.startswith("actor.") or key in ("z_mean", "z_std", "action_low", "action_high"):
            digest.update(key.encode())
            digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return f"sac:{digest.hexdigest()[:16]}"


def expert_dir(ckpt_dir: Path, task: str) -> Path:
    """Where a task's trained expert, its metrics and its learning curve live."""
    return Path(ckpt_dir) / task / "expert"


def expert_path(ckpt_dir: Path, task: str) -> Path:
    return expert_dir(ckpt_dir, task) / "expert.pt"


def train_command(task: str, ckpt_dir: Path = CKPT_DIR) -> str:
    """The command that trains the task's expert into `ckpt_dir`."""
    flags = "" if Path(ckpt_dir) == CKPT_DIR else f" --ckpt-dir {ckpt_dir}"
    return f"python train_robots/train_expert.py --task {task}{flags}"


def load_sac_expert(task: str, ckpt_dir: Path = CKPT_DIR) -> SACExpert:
    """The trained expert of `task`; a missing, unfinished or other task's one is a clear error."""
    path = expert_path(ckpt_dir, task)
    command = train_command(task, ckpt_dir)
    if not path.exists():
        raise MissingExpert(
            f"{task} has no trained expert at {path}; train it with `{command}` "
            f"(on Modal: `modal run train_robots/train_expert.py --task {task}`)"
        )
    agent, payload = load_agent(path, with_optimizer=False, kind=EXPERT_KIND)
    if payload["task"] != task:
        raise MissingExpert(
            f"{path} is the expert of {payload['task']}, not of {task}; train {task}'s expert with `{command}`"
        )
    if not payload.get("finished", False):
        raise MissingExpert(
            f"{path} is an unfinished expert (env step {payload['step']} of {payload['config']['env_steps']}); "
            f"rerun `{command}` to finish its training"
        )
    return SACExpert(agent, task, path)


Expert = ReacherExpert | SACExpert


def make_expert(task: str, ckpt_dir: Path = CKPT_DIR, velocity_gain: float | None = None) -> Expert:
    """The expert of a task (see the module docstring); trained experts are read from `ckpt_dir`.
    `velocity_gain` replaces reacher's default (`--expert-velocity-gain`; None keeps it)."""
    if velocity_gain is None:
        return ReacherExpert() if task.split("-")[0] in SCRIPTED else load_sac_expert(task, ckpt_dir)
    if task.split("-")[0] not in SCRIPTED:
        raise ConfigError(
            f"--expert-velocity-gain is for reacher's scripted expert; {task}'s is trained (a SAC actor, "
            "train_expert.py): leave the flag out"
        )
    if not velocity_gain > 0:
        raise ConfigError(f"--expert-velocity-gain must be positive, got {velocity_gain}")
    return ReacherExpert(velocity_gain=velocity_gain)
