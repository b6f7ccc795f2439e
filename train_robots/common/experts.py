"""Scripted experts: privileged controllers that read the physics to act.

- reacher: damped-least-squares inverse kinematics turns the fingertip-to-target error
  into joint velocities, and a P-controller on joint velocity turns those into torques.
  The damping keeps the arm well behaved near singular (stretched or folded) poses, where
  an undamped Jacobian-transpose controller fails on about a third of episodes.
- walker, cheetah: an open-loop periodic gait (sine waves with fixed phase offsets). It
  is a data-collection policy that moves the body through varied states, not an expert;
  a later issue brings real ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from train_robots.common.envs import ControlEnv


@dataclass
class ReacherExpert:
    """Damped-least-squares IK + P control for reacher."""

    position_gain: float = 15.0
    """Desired fingertip velocity per metre of error (1/s)."""
    velocity_gain: float = 1.0
    """Torque per rad/s of joint-velocity error (actions saturate at +-1)."""
    damping: float = 0.05
    """Levenberg-Marquardt damping lambda of the least-squares inverse (metres)."""

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


@dataclass
class PeriodicGait:
    """Open-loop sine gait: joint j follows amplitude * sin(2 pi f t + j * phase_step)."""

    frequency_hz: float = 1.5
    amplitude: float = 0.8
    phase_step: float = np.pi / 2

    def act(self, env: ControlEnv, step: int) -> np.ndarray:
        seconds = step * env.spec.action_repeat * env.control_timestep
        phases = np.arange(env.action_dim) * self.phase_step
        action = self.amplitude * np.sin(2 * np.pi * self.frequency_hz * seconds + phases)
        return np.clip(action, env.action_low, env.action_high).astype(np.float32)


def make_expert(task: str) -> ReacherExpert | PeriodicGait:
    """The data-collection controller of a task (see the module docstring)."""
    domain = task.split("-")[0]
    if domain == "reacher":
        return ReacherExpert()
    return PeriodicGait()
