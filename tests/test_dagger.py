"""DAgger: the learner drives, the expert labels every visited state; train_bc's rounds resume."""

import json

import numpy as np
import pytest
from conftest import smoke_generate_config

from train_robots import generate_and_encode_modal as generate
from train_robots import train_bc
from train_robots.common.dagger import LabellingController, labelled_rollouts
from train_robots.common.encoders import build_encoder
from train_robots.common.envs import ControlEnv
from train_robots.common.experts import ReacherExpert, make_expert
from train_robots.common.presets import get_preset
from train_robots.common.rollout import ExpertController
from train_robots.common.runtime import episode_seed


class StillController:
    """A learner that never moves the arm."""

    def reset(self, envs, seeds):
        pass

    def act(self, z):
        return np.zeros((len(z), 2), np.float32)


def test_the_learner_drives_and_the_expert_labels_every_visited_state():
    env = ControlEnv("reacher-easy")
    encoder = build_encoder("state", env, get_preset("smoke", "reacher-easy"), "cpu")
    rollouts = labelled_rollouts(
        env, encoder, StillController(), ExpertController(ReacherExpert()), 3, 12, seed=0, first_episode=5
    )
    assert rollouts.z.shape == (3, 12, 8) and rollouts.expert_action.shape == (3, 12, 2)
    # Replay the same starts with the learner's (zero) actions: the labels are the expert's action there.
    expert = make_expert("reacher-easy")
    replay = ControlEnv("reacher-easy")
    for e in range(3):
        replay.reset(episode_seed(0, 5 + e, "dagger"))
        for t in range(12):
            np.testing.assert_allclose(rollouts.expert_action[e, t], expert.act(replay, t), atol=1e-5)
            replay.step(np.zeros(2, np.float32))
    assert np.abs(rollouts.expert_action).max() > 0.5  # the expert wanted to move ...
    assert np.abs(np.diff(rollouts.z, axis=1)).max() < 0.05  # ... but the still learner drove


def test_the_labelling_controller_refuses_a_second_batch():
    env = ControlEnv("reacher-easy")
    labelling = LabellingController(StillController(), ExpertController(ReacherExpert()))
    env.reset(0)
    labelling.reset([env], [0])
    labelling.act(np.zeros((1, 8), np.float32))
    with pytest.raises(RuntimeError, match="lockstep"):
        labelling.reset([env], [1])


@pytest.fixture(scope="module")
def dagger_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("dagger_data")
    generate.main(smoke_generate_config(root, episodes=6, episode_steps=40, shard_episodes=3))
    return root


def dagger_config(data_dir, ckpt_dir, **overrides) -> train_bc.Config:
    fields = dict(dagger_rounds=2, dagger_episodes=2, dagger_steps=10)
    return train_bc.Config(
        task="reacher-easy",
        encoder="state",
        preset="smoke",
        data_dir=data_dir,
        ckpt_dir=ckpt_dir,
        device="cpu",
        **{**fields, **overrides},
    )


def test_dagger_rounds_add_labelled_transitions_and_resume_when_more_are_asked(dagger_data, tmp_path, capsys):
    metrics = train_bc.main(dagger_config(dagger_data, tmp_path))
    out = tmp_path / "reacher-easy" / "state"
    assert metrics["dagger_transitions"] == 2 * 2 * 10
    assert len(metrics["dagger_success_by_round"]) == 2 and len(metrics["dagger_return_by_round"]) == 2
    assert (out / "bc_dagger.png").stat().st_size > 0
    with np.load(out / train_bc.DAGGER_FILE) as saved:
        first_rounds = saved["z"].copy()
    assert first_rounds.shape == (2, 2, 10, 8)
    assert not np.allclose(first_rounds[0, :, 0], first_rounds[1, :, 0])  # each round starts elsewhere

    again = train_bc.main(dagger_config(dagger_data, tmp_path, dagger_rounds=3))
    assert "resuming after DAgger round 2" in capsys.readouterr().out
    assert again["dagger_transitions"] == 3 * 2 * 10
    assert again["dagger_success_by_round"][:2] == metrics["dagger_success_by_round"]
    with np.load(out / train_bc.DAGGER_FILE) as saved:
        np.testing.assert_array_equal(saved["z"][:2], first_rounds)  # the old rounds were kept, not redone
    assert json.loads((out / "bc.json").read_text())["dagger_transitions"] == 60

    other = train_bc.main(dagger_config(dagger_data, tmp_path, dagger_rounds=1, dagger_steps=5))
    assert "starting the DAgger rounds anew" in capsys.readouterr().out
    assert other["dagger_transitions"] == 2 * 5


def test_a_bad_dagger_flag_is_named():
    with pytest.raises(train_bc.ConfigError, match="--dagger-rounds"):
        train_bc.main(train_bc.Config(dagger_rounds=-1))
    with pytest.raises(train_bc.ConfigError, match="--dagger-steps"):
        train_bc.main(train_bc.Config(dagger_rounds=1, dagger_steps=0))
