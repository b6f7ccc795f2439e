"""Episodes evaluated in lockstep give the same results as one at a time, for every controller kind."""

import numpy as np
import pytest
import torch

from train_robots.common.encoders import build_encoder
from train_robots.common.envs import ControlEnv, task_spec
from train_robots.common.experts import ReacherExpert
from train_robots.common.planner_controller import PlannerController
from train_robots.common.planners import Planner, PlannerConfig
from train_robots.common.policy import PolicyController, PolicyMLP
from train_robots.common.presets import get_preset, sizes_for
from train_robots.common.rollout import ExpertController, episodes_in_parallel, evaluate
from train_robots.common.runtime import ConfigError
from train_robots.common.sac import SACAgent, SACConfig, SACController
from train_robots.common.world_model import WorldModel, WorldModelConfig, load_world_model
from train_robots.mpc_planner import PlannerFlags

EPISODES, STEPS = 3, 12


class ActionLog:
    """Wraps a controller and records every action it gives, per episode (the whole trajectory)."""

    def __init__(self, inner):
        self.inner, self.episodes, self._current = inner, [], []

    def reset(self, envs, seeds):
        self.inner.reset(envs, seeds)
        self._current = [[] for _ in envs]
        self.episodes += self._current

    def act(self, z):
        actions = self.inner.act(z)
        for log, action in zip(self._current, actions):
            log.append(np.array(action))
        return actions


@pytest.fixture(scope="module")
def env():
    return ControlEnv("reacher-easy")


@pytest.fixture(scope="module")
def encoder(env):
    return build_encoder("state", env, get_preset("smoke"), torch.device("cpu"))


def _policy(env):
    torch.manual_seed(0)
    policy = PolicyMLP(env.obs_dim, env.action_dim, 32, 2, env.action_low, env.action_high)
    policy.set_normalizer(np.zeros(env.obs_dim), np.full(env.obs_dim, 0.3))  # untrained, but acting strongly
    return PolicyController(policy)


def _sac(env):
    torch.manual_seed(1)
    cfg = SACConfig(latent_dim=env.obs_dim, action_dim=env.action_dim, hidden=32)
    agent = SACAgent(cfg, np.zeros(env.obs_dim), np.full(env.obs_dim, 0.3), env.action_low, env.action_high)
    return SACController(agent)


def _planner(name, smoke_dynamics, env, encoder):
    _, ckpt_dir = smoke_dynamics
    model = load_world_model(ckpt_dir / "reacher-easy" / "state" / "dynamics.pt")
    cfg = PlannerConfig(planner=name, samples=64, horizon=5, iterations=2, elites=8, replan_every=2, precision="fp32")
    planner = Planner(model, cfg, env.action_low, env.action_high, seed=3, goal_dims=encoder.goal_dims)
    return PlannerController(planner, encoder, keep_latents=0)


CONTROLLERS = ["expert", "bc", "sac", "random", "cem", "mppi"]


def _controller(kind, env, encoder, smoke_dynamics):
    if kind == "expert":
        return ExpertController(ReacherExpert())
    if kind == "bc":
        return _policy(env)
    if kind == "sac":
        return _sac(env)
    return _planner(kind, smoke_dynamics, env, encoder)


@pytest.mark.parametrize("kind", CONTROLLERS)
def test_lockstep_evaluation_matches_one_episode_at_a_time(kind, env, encoder, smoke_dynamics):
    runs = {}
    for parallel in (1, EPISODES):
        log = ActionLog(_controller(kind, env, encoder, smoke_dynamics))
        metrics = evaluate(env, encoder, log, EPISODES, STEPS, seed=4, parallel=parallel)
        runs[parallel] = (metrics, np.array(log.episodes))
    (one, actions_one), (many, actions_many) = runs[1], runs[EPISODES]
    assert one["episodes_in_parallel"] == 1 and many["episodes_in_parallel"] == EPISODES
    assert one["seeds"] == many["seeds"]
    assert actions_one.shape == (EPISODES, STEPS, env.action_dim)
    # Batched products may round differently in the last bits; nothing more may differ.
    np.testing.assert_allclose(actions_many, actions_one, atol=1e-4)
    np.testing.assert_allclose(many["returns"], one["returns"], atol=1e-3)
    assert many["successes"] == one["successes"]
    # the episodes really differ from each other (so matching them is not trivial)
    assert np.abs(actions_one[0] - actions_one[1]).max() > 1e-3


def test_planner_traces_match_across_batch_sizes(env, encoder, smoke_dynamics):
    traces = {}
    for parallel in (1, EPISODES):
        controller = _planner("cem", smoke_dynamics, env, encoder)
        evaluate(env, encoder, controller, EPISODES, STEPS, seed=4, parallel=parallel)
        traces[parallel] = controller.traces
    for a, b in zip(traces[1], traces[EPISODES]):
        np.testing.assert_allclose(a.real_distance, b.real_distance, atol=1e-4)
        np.testing.assert_allclose(a.best_cost, b.best_cost, atol=1e-4)
        assert len(a.plan_seconds) == STEPS // 2


def test_timings_are_per_episode_and_per_batch(env, encoder):
    metrics = evaluate(env, encoder, _policy(env), 4, 5, seed=0, parallel=2)
    assert metrics["episodes_in_parallel"] == 2
    assert metrics["ms_per_batch"] == pytest.approx(2 * metrics["ms_per_action"], rel=1e-6)
    assert metrics["ms_per_step"] >= metrics["ms_per_action"] > 0


def test_episodes_in_parallel_is_bounded_by_memory_and_the_flag():
    assert episodes_in_parallel(None, 50) == 50
    assert episodes_in_parallel(None, 50, bytes_per_episode=1 << 40) == 1
    assert episodes_in_parallel(8, 50) == 8 and episodes_in_parallel(80, 50) == 50
    with pytest.raises(ConfigError, match="--parallel"):
        episodes_in_parallel(0, 50)


@pytest.mark.parametrize("dim, lockstep", [(4096, range(5, 11)), (6, [50])])
def test_a_cpu_runs_wide_pixel_planners_a_few_episodes_at_a_time(dim, lockstep):
    # bench.py's planner_lockstep: at D = 4096 a plan per problem costs 141-147 ms with 5-10
    # problems in a batch and 301 with 50 (imagined latents past the caches); a narrow latent
    # keeps all 50 in one batch.
    preset = sizes_for("cpu", "reacher-easy", "vjepa2-random")
    cfg = PlannerFlags(planner="cem", horizon=20, handover=0.0, prior_samples=0).sized(
        preset, task_spec("reacher-easy")
    )
    model = WorldModel(WorldModelConfig(latent_dim=dim, action_dim=2, width=preset.dynamics_width)).eval()
    bounds = np.ones(2, np.float32)
    planner = Planner(model, cfg, -bounds, bounds, device=torch.device("cpu"))
    assert episodes_in_parallel(None, 50, planner.bytes_per_problem(), torch.device("cpu")) in lockstep
