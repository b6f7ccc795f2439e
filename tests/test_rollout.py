"""Closed-loop evaluation: the expert through the shared path, seeds, metrics, artefacts."""

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from PIL import Image

from train_robots.common.data import load_dataset
from train_robots.common.encoders import build_encoder
from train_robots.common.envs import ControlEnv
from train_robots.common.experts import ReacherExpert
from train_robots.common.presets import get_preset
from train_robots.common.rollout import GIF_SIZE, ExpertController, evaluate
from train_robots.common.runtime import episode_seed

METRIC_KEYS = {
    "episodes",
    "success_rate",
    "mean_return",
    "std_return",
    "ms_per_action",
    "ms_per_step",
    "seeds",
    "encoder",
    "returns",
    "successes",
    "missed_episodes",
}


@pytest.fixture(scope="module")
def env():
    return ControlEnv("reacher-easy")


@pytest.fixture(scope="module")
def state_encoder(env):
    return build_encoder("state", env, get_preset("smoke"), torch.device("cpu"))


class Recorder:
    """Zero torque, remembering what evaluate hands it (a real controller, just a passive one)."""

    def __init__(self, action_dim):
        self.action_dim, self.resets, self.latents = action_dim, [], []

    def reset(self, envs, seeds):
        self.resets += [env.get_state() for env in envs]

    def act(self, z):
        self.latents += list(z)
        return np.zeros((len(z), self.action_dim), np.float32)


def test_expert_solves_reacher_through_evaluate(tmp_path, env, state_encoder):
    gif, plot = tmp_path / "episode0.gif", tmp_path / "returns.png"
    metrics = evaluate(
        env, state_encoder, ExpertController(ReacherExpert()), 2, 60, seed=0, gif_path=gif, plot_path=plot
    )
    assert METRIC_KEYS <= set(metrics)
    assert metrics["success_rate"] == 1.0 and metrics["successes"] == [True, True]
    assert metrics["missed_episodes"] == []
    # within 60 steps the expert reaches the target early and stays: most steps earn reward
    assert metrics["mean_return"] > 60 and len(metrics["returns"]) == 2
    assert metrics["mean_return"] == pytest.approx(np.mean(metrics["returns"]))
    assert metrics["encoder"] == "state" and metrics["ms_per_step"] >= metrics["ms_per_action"] > 0
    frames = iio.imread(gif, index=None)
    assert frames.shape[1:3] == (GIF_SIZE, GIF_SIZE)
    # GIF merges identical consecutive frames (an arm at rest) into one longer one: 60 steps of 40 ms.
    with Image.open(gif) as image:
        durations = [image.seek(i) or image.info["duration"] for i in range(image.n_frames)]
    assert image.n_frames == frames.shape[0] <= 60 and sum(durations) == 60 * 40
    assert plot.stat().st_size > 0


def test_passive_controller_fails_where_the_expert_succeeds(env, state_encoder):
    recorder = Recorder(env.action_dim)
    metrics = evaluate(env, state_encoder, recorder, 2, 60, seed=0)
    assert metrics["success_rate"] < 1.0 or metrics["mean_return"] < 30


def test_evaluation_seeds_are_disjoint_from_the_data(env, state_encoder, state_dataset):
    data = load_dataset(state_dataset)
    metrics = evaluate(env, state_encoder, Recorder(env.action_dim), 3, 2, seed=data.meta["seed"])
    assert metrics["seeds"] == [episode_seed(data.meta["seed"], i, "eval") for i in range(3)]
    data_seeds = {episode_seed(data.meta["seed"], i, "data") for i in range(1000)}
    assert not data_seeds & set(metrics["seeds"])
    # and no evaluation episode starts where a data episode started
    for seed in metrics["seeds"]:
        env.reset(seed)
        assert not np.any(np.all(np.isclose(data.physics[:, 0], env.get_state()), axis=1))


def test_controller_sees_the_encoded_observation_after_reset(env, state_encoder):
    recorder = Recorder(env.action_dim)
    metrics = evaluate(env, state_encoder, recorder, 2, 3, seed=5, parallel=1)
    assert len(recorder.resets) == 2 and len(recorder.latents) == 6
    for i, seed in enumerate(metrics["seeds"]):
        env.reset(seed)
        np.testing.assert_array_equal(recorder.resets[i], env.get_state())  # reset right after env.reset
        np.testing.assert_array_equal(recorder.latents[3 * i], env.observation())  # z of the first frame


def test_pixel_encoder_in_the_loop(env):
    encoder = build_encoder("vjepa2-random", env, get_preset("smoke"), torch.device("cpu"))
    recorder = Recorder(env.action_dim)
    metrics = evaluate(env, encoder, recorder, 1, 3, seed=0)
    assert metrics["encoder"] == "vjepa2-random"
    latents = np.stack(recorder.latents)
    assert latents.shape == (3, encoder.info.dim) and latents.dtype == np.float32
    env.reset(metrics["seeds"][0])
    first = encoder.observe(env)
    np.testing.assert_allclose(latents[0], encoder.encode(first[None])[0], rtol=1e-5, atol=1e-5)  # still clip
    env.step(np.zeros(env.action_dim, np.float32))  # the recorder's action
    second = encoder.observe(env)
    motion = encoder.encode(encoder.motion_inputs(first[None], second[None]))[0]
    np.testing.assert_allclose(latents[1], motion, rtol=1e-5, atol=1e-5)  # (previous, current) frames


def test_locomotion_has_no_success_rate_only_a_return(tmp_path):
    walker = ControlEnv("walker-walk")
    encoder = build_encoder("state", walker, get_preset("smoke"), torch.device("cpu"))
    plot = tmp_path / "returns.png"
    metrics = evaluate(walker, encoder, Recorder(walker.action_dim), 2, 5, seed=0, plot_path=plot)
    assert metrics["success_rate"] is None and metrics["successes"] is None and metrics["missed_episodes"] is None
    assert metrics["mean_return"] > 0 and plot.stat().st_size > 0  # a fallen walker still earns a little
