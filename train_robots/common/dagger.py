"""DAgger: the expert labels the states a learner visits (Ross, Gordon & Bagnell, 2011).

Behaviour cloning learns from the states the expert's data visits. Closed loop, a learner
drifts to states the data rarely shows (on reacher from pixels: parked a few centimetres
beside the target, where the frames show the fingertip and the data hardly ever does) and has
no label there. A DAgger round runs the learner closed loop, with the encoder in the loop as
in evaluation, and asks the expert what it would have done at every visited state; the next
fit learns from the data plus those labels. The learner's actions drive the episodes; the
expert's only label them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from train_robots.common.encoders import Encoder
from train_robots.common.envs import ControlEnv
from train_robots.common.rollout import Controller, evaluate


class LabellingController:
    """Acts with `learner`; records every latent it is shown and `expert`'s action there."""

    def __init__(self, learner: Controller, expert: Controller):
        self.learner, self.expert = learner, expert
        self.latents: list[np.ndarray] = []  # per step [N, D]
        self.labels: list[np.ndarray] = []  # per step [N, A]

    def reset(self, envs: Sequence[ControlEnv], seeds: Sequence[int]) -> None:
        if self.latents:
            raise RuntimeError("LabellingController records one batch of episodes: run them all in lockstep")
        self.learner.reset(envs, seeds)
        self.expert.reset(envs, seeds)

    def act(self, z: np.ndarray) -> np.ndarray:
        self.latents.append(np.array(z, np.float32))
        self.labels.append(np.asarray(self.expert.act(z), np.float32))
        return self.learner.act(z)


@dataclass
class LabelledRollouts:
    """One DAgger round: what the learner saw and what the expert would have done there."""

    z: np.ndarray  # [E, T, D] the latent at each visited state
    expert_action: np.ndarray  # [E, T, A]
    success_rate: float | None  # the learner's own closed-loop figures on these episodes
    mean_return: float


def labelled_rollouts(
    env: ControlEnv,
    encoder: Encoder,
    learner: Controller,
    expert: Controller,
    episodes: int,
    episode_steps: int,
    seed: int,
    first_episode: int,
    desc: str = "dagger",
) -> LabelledRollouts:
    """Run `learner` for `episodes` episodes in lockstep from the "dagger" seed stream (never an
    evaluation start) and label every visited state with `expert`'s action."""
    labelling = LabellingController(learner, expert)
    result = evaluate(
        env, encoder, labelling, episodes, episode_steps, seed, desc=desc, stream="dagger", first_episode=first_episode
    )
    return LabelledRollouts(
        z=np.stack(labelling.latents, axis=1),
        expert_action=np.stack(labelling.labels, axis=1),
        success_rate=result["success_rate"],
        mean_return=result["mean_return"],
    )
