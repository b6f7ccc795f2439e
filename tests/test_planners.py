"""Planners on a known problem: linear dynamics (an exact, analytic world model) and a
quadratic distance to a goal, plus the real WorldModel for the folded fast path."""

import numpy as np
import pytest
import torch
from torch import nn

from train_robots.common.imagination import imagination
from train_robots.common.planners import Planner, PlannerConfig
from train_robots.common.runtime import ConfigError
from train_robots.common.world_model import WorldModel, WorldModelConfig


class LinearWorldModel(nn.Module):
    """z_{t+1} = A z_t + B a_t with the WorldModel primitives (identity normalisation)."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor):
        super().__init__()
        self.register_buffer("A", a)
        self.register_buffer("B", b)

    def normalize(self, z):
        return z

    def rollout(self, z0, actions):
        z, zs = z0, []
        for t in range(actions.shape[1]):
            z = z @ self.A.T + actions[:, t] @ self.B.T
            zs.append(z)
        z = torch.stack(zs, 1)
        return {"z": z, "reward": -z.pow(2).sum(-1), "uncertainty": z.new_zeros(z.shape[:2])}


def quadratic_problem(dim=4, seed=0):
    """A slowly rotating linear system; the goal needs a specific, non-trivial action sequence."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=g))
    rotation = torch.linalg.matrix_exp(0.1 * (q - q.T))
    model = LinearWorldModel(0.98 * rotation, 0.1 * torch.randn(dim, dim, generator=g))
    z0 = torch.randn(dim, generator=g).numpy()
    goal = (model.rollout(torch.as_tensor(z0)[None], 0.6 * torch.ones(1, 10, dim) - 0.3)["z"][0, -1]).numpy()
    return model, z0, goal


def make_planner(model, name, dim=4, low=-1.0, high=1.0, **changes):
    # The quadratic problem's goal is where a sequence ends (cost 0 only at the last step): cost at final.
    base = dict(planner=name, samples=200, horizon=10, iterations=6, elites=20, cost="l2", cost_at="final")
    settings = base | dict(reward_weight=0.0) | changes
    cfg = PlannerConfig(**settings)
    return Planner(model, cfg, np.full(dim, low, np.float32), np.full(dim, high, np.float32), seed=0)


def test_cem_cost_decreases_over_iterations_and_beats_random_shooting():
    model, z0, goal = quadratic_problem()
    cem = make_planner(model, "cem").plan(z0, goal)
    shooting = make_planner(model, "random").plan(z0, goal)
    assert np.all(np.diff(cem.mean_cost) < 0)
    assert cem.mean_cost[-1] < 0.5 * cem.mean_cost[0]
    assert cem.best_cost[-1] < 0.5 * cem.best_cost[0]
    assert cem.cost < 0.5 * shooting.cost, (cem.cost, shooting.cost)
    assert cem.cost < 0.05  # the goal is reachable (cost 0): CEM gets close to the optimum


def test_mppi_runs_and_improves():
    model, z0, goal = quadratic_problem()
    plan = make_planner(model, "mppi").plan(z0, goal)
    assert np.isfinite(plan.cost) and plan.actions.shape == (10, 4)
    assert plan.mean_cost[-1] < plan.mean_cost[0]
    assert len(plan.best_cost) == 6 and plan.imagined_distance.shape == (10,)


@pytest.mark.parametrize("name", ["random", "cem", "mppi"])
def test_planners_respect_action_bounds(name):
    # An integrator with a goal far beyond reach: the best plans push against the bounds,
    # up in the first two dimensions and down in the last two.
    model = LinearWorldModel(torch.eye(4), torch.eye(4))
    goal = np.array([100.0, 100.0, -100.0, -100.0], np.float32)
    plan = make_planner(model, name, low=-0.2, high=0.7, init_std=3.0).plan(np.zeros(4, np.float32), goal)
    assert plan.actions.min() >= -0.2 - 1e-6 and plan.actions.max() <= 0.7 + 1e-6
    middle = 0.25
    assert plan.actions[:, :2].mean() > middle + 0.1 and plan.actions[:, 2:].mean() < middle - 0.1


def test_plans_are_deterministic_for_a_seed_and_warm_start_shifts():
    model, z0, goal = quadratic_problem()
    a, b = make_planner(model, "cem"), make_planner(model, "cem")
    first = a.plan(z0, goal)
    np.testing.assert_array_equal(first.actions, b.plan(z0, goal).actions)
    # One iteration warm-started from the shifted plan is better than one from scratch.
    z1 = model.rollout(torch.as_tensor(z0)[None], torch.as_tensor(first.actions)[None, :1])["z"][0, 0].numpy()
    warm = make_planner(model, "cem", iterations=1)
    warm._previous = a._previous
    cold = make_planner(model, "cem", iterations=1)
    assert warm.plan(z1, goal).cost < cold.plan(z1, goal).cost


@pytest.mark.parametrize("cost", ["l1", "l2", "cosine"])
@pytest.mark.parametrize("cost_at", ["final", "every"])
def test_every_cost_plans(cost, cost_at):
    model, z0, goal = quadratic_problem()
    cfg = PlannerConfig(planner="cem", samples=100, horizon=10, iterations=3, elites=10, cost=cost, cost_at=cost_at)
    plan = Planner(model, cfg, -np.ones(4), np.ones(4)).plan(z0, goal)
    assert np.isfinite(plan.cost) and plan.mean_cost[-1] < plan.mean_cost[0]


def test_reward_term_changes_the_plan():
    model, z0, goal = quadratic_problem()
    base = make_planner(model, "cem").plan(z0, goal)
    # reward = -|z|^2: a large weight trades the goal for staying near the origin.
    rewarded = make_planner(model, "cem", reward_weight=10.0).plan(z0, goal)
    final = model.rollout(torch.as_tensor(z0)[None], torch.as_tensor(rewarded.actions)[None])["z"][0]
    final_base = model.rollout(torch.as_tensor(z0)[None], torch.as_tensor(base.actions)[None])["z"][0]
    assert final.pow(2).sum() < final_base.pow(2).sum()


def test_action_penalty_makes_the_quiet_sequence_win_where_goal_costs_tie():
    # Actions move nothing, and the start is the goal: every sequence costs the same distance.
    model = LinearWorldModel(torch.eye(4), torch.zeros(4, 4))
    z0 = np.ones(4, np.float32)
    free = make_planner(model, "cem").plan(z0, z0)
    quiet = make_planner(model, "cem", action_penalty=1.0).plan(z0, z0)
    assert np.abs(quiet.actions).mean() < 0.1 < np.abs(free.actions).mean()
    assert quiet.cost > free.cost  # the penalty is part of the cost


def test_bad_settings_are_clear_errors():
    with pytest.raises(ConfigError, match="--planner"):
        PlannerConfig(planner="ilqr").validate()
    with pytest.raises(ConfigError, match="--elites"):
        PlannerConfig(samples=10, elites=20).validate()
    with pytest.raises(ConfigError, match="--replan-every"):
        PlannerConfig(horizon=5, replan_every=6).validate()
    with pytest.raises(ConfigError, match="--action-penalty"):
        PlannerConfig(action_penalty=-1.0).validate()


def random_world_model(latent_dim=64, width=32, ensemble=1, kind="mlp"):
    torch.manual_seed(0)
    model = WorldModel(WorldModelConfig(latent_dim=latent_dim, action_dim=2, width=width, ensemble=ensemble, kind=kind))
    with torch.no_grad():  # a fresh model's output layer is zero; make the dynamics non-trivial
        for member in model.members:
            nn.init.normal_(member.out.weight, std=0.1)
            nn.init.normal_(member.out.bias, std=0.1)
        model.z_mean.normal_()
        model.z_std.uniform_(0.5, 2.0)
        model.delta_std.uniform_(0.1, 1.0)
        model.a_std.uniform_(0.5, 1.5)
    return model.eval()


@pytest.mark.parametrize("per_step", [False, True])
@pytest.mark.parametrize("latent_dim,folded", [(64, True), (6, False)])
def test_mlp_fast_path_equals_the_plain_rollout(per_step, latent_dim, folded):
    model = random_world_model(latent_dim=latent_dim)
    fast, plain = imagination(model, None, True, "fp32"), imagination(model, None, True, "fp32", fast=False)
    assert type(fast).__name__ == "MLPImagination" and fast.folded == folded
    # 3 problems (each its own z0) of 50 samples
    z0, actions = torch.randn(3, latent_dim), torch.rand(3, 50, 10, 2) * 2 - 1
    with torch.inference_mode():
        a, b = fast(z0, actions, per_step), plain(z0, actions, per_step)
        c = imagination(model, None, True, "bf16")(z0, actions, per_step)
        alone = plain(z0[1:2], actions[1:2], per_step)
    assert a["z"].shape == b["z"].shape == (3, 50, 10 if per_step else 1, latent_dim)
    assert a["reward"].shape == (3, 50, 10)
    torch.testing.assert_close(b["z"][1:2], alone["z"], rtol=1e-5, atol=1e-5)  # problems do not mix
    torch.testing.assert_close(a["z"], b["z"], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(a["reward"], b["reward"], rtol=1e-4, atol=1e-4)
    # bf16 products stay close enough to rank plans
    assert (c["z"] - b["z"]).abs().max() < 0.05 * b["z"].abs().max()


@pytest.mark.parametrize("kind,ensemble", [("mlp", 1), ("mlp", 3), ("transformer", 1)])
def test_planner_runs_on_world_models(kind, ensemble):
    model = random_world_model(latent_dim=16, width=32, ensemble=ensemble, kind=kind)
    cfg = PlannerConfig(samples=64, elites=8, iterations=2, horizon=4, uncertainty_penalty=1.0, precision="fp32")
    plan = Planner(model, cfg, -np.ones(2), np.ones(2)).plan(np.zeros(16, np.float32), np.ones(16, np.float32))
    assert plan.actions.shape == (4, 2) and np.isfinite(plan.cost)


def test_cost_units_latent_keeps_the_encoders_geometry():
    model = random_world_model(latent_dim=8)
    z, goal = torch.randn(5, 8), torch.randn(8)
    std, rms = model.z_std, model.z_std.pow(2).mean().sqrt()

    def distance(units):
        planner = Planner(model, PlannerConfig(cost_units=units), -np.ones(2), np.ones(2))
        return planner.distance(z.numpy(), goal.numpy())

    latent, standard = distance("latent"), distance("standardized")
    np.testing.assert_allclose(latent, ((z - goal).abs() / rms).mean(-1).numpy(), rtol=1e-5)
    np.testing.assert_allclose(standard, ((z - goal).abs() / std).mean(-1).numpy(), rtol=1e-5)


def test_goal_dims_leave_the_other_dimensions_out_of_the_cost():
    model = random_world_model(latent_dim=8)
    z, goal = torch.randn(5, 8), torch.randn(8)
    pose = np.array([True] * 6 + [False] * 2)  # e.g. reacher's state: velocities last
    planner = Planner(model, PlannerConfig(cost_units="standardized"), -np.ones(2), np.ones(2), goal_dims=pose)
    far_velocity = z.clone()
    far_velocity[:, 6:] += 100.0
    np.testing.assert_allclose(
        planner.distance(far_velocity.numpy(), goal.numpy()), planner.distance(z.numpy(), goal.numpy())
    )
    assert planner.distance(z.numpy() + 1.0, goal.numpy()).mean() != planner.distance(z.numpy(), goal.numpy()).mean()
    plan = planner.plan(z[0].numpy(), goal.numpy())  # the fast MLP path honours the mask too
    assert np.isfinite(plan.cost)
    with pytest.raises(ConfigError, match="goal_dims has 3 entries"):
        Planner(model, PlannerConfig(), -np.ones(2), np.ones(2), goal_dims=np.ones(3, bool))


def test_colored_noise_is_unit_variance_and_correlated_in_time_only_when_colored():
    from train_robots.common.planners import colored_noise

    g = torch.Generator().manual_seed(0)
    white = colored_noise(4000, 10, 2, 0.0, g, torch.device("cpu"))
    pink = colored_noise(4000, 10, 2, 2.0, g, torch.device("cpu"))
    assert white.shape == pink.shape == (4000, 10, 2)
    for noise in (white, pink):
        assert abs(noise.std().item() - 1.0) < 0.05

    def lag1(x):
        return torch.corrcoef(torch.stack([x[:, :-1].flatten(), x[:, 1:].flatten()]))[0, 1].item()

    assert abs(lag1(white)) < 0.05
    assert lag1(pink) > 0.5  # a push lasts several steps
    with pytest.raises(ConfigError, match="--noise-beta"):
        PlannerConfig(noise_beta=-1.0).validate()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (runs on a lent GPU)")
@pytest.mark.parametrize("name", ["cem", "mppi", "random"])
def test_cuda_graph_plans_equal_eager_plans(name):
    model = random_world_model(latent_dim=64, width=32).cuda()
    cfg = dict(planner=name, samples=128, horizon=6, iterations=3, elites=16, reward_weight=0.5, precision="fp32")
    z, goal = torch.randn(2, 3, 64).numpy()
    plans = {}
    for graphs in (False, True):
        planner = Planner(model, PlannerConfig(cuda_graphs=graphs, **cfg), -np.ones(2), np.ones(2), seed=1)
        planner.reset([11, 12, 13])
        first = planner.plan(z, goal)
        plans[graphs] = (first, planner.plan(z + 0.1, goal, executed=1))  # a replay, warm-started
        assert (planner._graphed is not None) == graphs and (not graphs or planner._graphed.graphs)
    for eager, graphed in zip(plans[False], plans[True]):
        np.testing.assert_allclose(graphed.actions, eager.actions, atol=1e-4)
        np.testing.assert_allclose(graphed.cost, eager.cost, atol=1e-4)


def constant_actor_agent(dim, action_dim, action, seed=0):
    """A real SACAgent whose actor's mean action is `action` everywhere (its last layer set so)."""
    from train_robots.common.sac import SACAgent, SACConfig

    torch.manual_seed(seed)
    bounds = np.ones(action_dim, np.float32)
    agent = SACAgent(SACConfig(dim, action_dim, hidden=16), np.zeros(dim), np.ones(dim), -bounds, bounds)
    last = agent.actor.net[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias[:action_dim] = torch.atanh(torch.full((action_dim,), float(action)))
        last.bias[action_dim:] = -3.0  # a narrow Gaussian around it
    return agent.eval()


def test_value_bootstraps_the_reward_term_at_the_horizon():
    model = random_world_model(latent_dim=16, width=32)
    agent = constant_actor_agent(16, 2, 0.1)
    cfg = PlannerConfig(samples=8, elites=2, horizon=4, iterations=1, value=True, gamma=0.9, precision="fp32")
    planner = Planner(model, cfg, -np.ones(2), np.ones(2), agent=agent)
    z0, units = torch.randn(2, 16), torch.rand(2, 8, 4, 2) * 2 - 1
    with torch.inference_mode():
        term = planner._reward_term(planner.imagine(z0, units, False, final_latent=True))
        out = model.rollout(z0.repeat_interleave(8, 0), units.flatten(0, 1))
        discounted = (out["reward"] * 0.9 ** torch.arange(4.0)).sum(-1) + 0.9**4 * agent.value(out["z"][:, -1])
    torch.testing.assert_close(term.flatten(), 0.1 * discounted, rtol=1e-4, atol=1e-5)
    with pytest.raises(ConfigError, match="dream-SAC"):
        Planner(model, cfg, -np.ones(2), np.ones(2))


def test_policy_prior_samples_are_the_actors_and_can_win():
    model, z0, goal = quadratic_problem()  # the goal is reached by holding the action at 0.3
    cfg = dict(samples=6, elites=2, horizon=10, iterations=1, cost="l2", reward_weight=0.0, precision="fp32")
    agent = constant_actor_agent(4, 4, 0.3)
    guided = Planner(
        model, PlannerConfig(planner="random", prior_samples=2, **cfg), -np.ones(4), np.ones(4), agent=agent
    )
    alone = Planner(model, PlannerConfig(planner="random", **cfg), -np.ones(4), np.ones(4))
    plan = guided.plan(z0, goal)
    np.testing.assert_allclose(plan.actions, 0.3, atol=1e-5)  # the actor's mean sequence won
    assert plan.cost < alone.plan(z0, goal).cost
    with pytest.raises(ConfigError, match="--prior-samples"):
        PlannerConfig(prior_samples=5, samples=6, elites=2).validate()


@pytest.mark.parametrize("latent_dim,folded", [(64, True), (6, False)])
def test_the_folded_policy_prior_follows_the_actor_through_the_plain_rollout(latent_dim, folded):
    from train_robots.common.policy_prior import FoldedPolicyPrior, policy_prior
    from train_robots.common.sac import SACAgent, SACConfig

    model = random_world_model(latent_dim=latent_dim, width=32)
    g = torch.Generator().manual_seed(1)
    z_mean, z_std = torch.randn(latent_dim, generator=g), torch.rand(latent_dim, generator=g) + 0.5
    agent = SACAgent(SACConfig(latent_dim, 2, hidden=16), z_mean.numpy(), z_std.numpy(), -np.ones(2), np.ones(2))
    to_env = lambda units: 0.5 + 2.0 * units  # noqa: E731 (an action box other than [-1, 1])
    z0 = model.denormalize(torch.randn(5, latent_dim, generator=g))
    noise = torch.randn(6, 5, 2, generator=g)
    fast = policy_prior(model, agent.eval(), to_env)
    assert isinstance(fast, FoldedPolicyPrior) == folded
    units = fast(z0, noise)
    assert units.shape == (5, 6, 2) and units.abs().max() < 1.0
    # the plain path, step by step: the actor's sample, then the world model's next latent
    z, expected = z0, []
    for step_noise in noise:
        mean, std = agent.action_distribution(z)
        expected.append(torch.tanh(mean + std * step_noise))
        z = model.next(z, to_env(expected[-1]))
    torch.testing.assert_close(units, torch.stack(expected, 1), rtol=1e-4, atol=1e-5)
    # P samples of one problem: z0 is given once and each sample follows its own noise
    torch.testing.assert_close(fast(z0[:1], noise[:, :3]), fast(z0[:1].expand(3, -1), noise[:, :3]))
    # the imagined motion matters: an actor that kept reading z0 would act otherwise
    mean, std = agent.action_distribution(z0)
    assert (units - torch.tanh(mean + std * noise).transpose(0, 1)).abs().amax() > 1e-2


def test_reward_objective_plans_without_a_goal():
    model = random_world_model(latent_dim=16, width=32)
    cfg = PlannerConfig(objective="reward", reward_weight=1.0, samples=64, elites=8, horizon=4, iterations=3)
    plan = Planner(model, cfg, -np.ones(2), np.ones(2)).plan(np.zeros(16, np.float32), None)
    assert plan.actions.shape == (4, 2) and np.isfinite(plan.cost)
    # it maximised the imagined reward: better than the mean of random sequences
    random_units = torch.rand(1, 256, 4, 2) * 2 - 1
    with torch.inference_mode():
        mean_random = model.rollout(torch.zeros(256, 16), random_units[0])["reward"].mean()
    assert -plan.cost > mean_random.item()
    with pytest.raises(ValueError, match="without a goal"):
        Planner(model, PlannerConfig(samples=8, elites=2), -np.ones(2), np.ones(2)).plan(np.zeros(16), None)
    with pytest.raises(ConfigError, match="--reward-weight must be positive"):
        PlannerConfig(objective="reward", reward_weight=0.0).validate()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (runs on a lent GPU)")
def test_cuda_graphs_with_value_prior_and_no_goal():
    model = random_world_model(latent_dim=16, width=32).cuda()
    agent = constant_actor_agent(16, 2, 0.2).cuda()
    base = dict(objective="reward", reward_weight=1.0, value=True, prior_samples=4, samples=64, elites=8, horizon=4)
    plans = []
    for graphs in (False, True):
        planner = Planner(model, PlannerConfig(cuda_graphs=graphs, **base), -np.ones(2), np.ones(2), agent=agent)
        planner.reset([3, 4])
        plans.append(planner.plan(np.zeros((2, 16), np.float32), None))
    np.testing.assert_allclose(plans[1].actions, plans[0].actions, atol=1e-4)


def handover_config(**changes) -> dict:
    """PlannerConfig fields of a small search that hands over to a 3-step hold near the goal."""
    base = dict(samples=32, elites=4, horizon=10, iterations=2, reward_weight=0.0, precision="fp32")
    return base | dict(prior_samples=4, handover=0.5, hold_horizon=3) | changes


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (runs on a lent GPU)")
@pytest.mark.parametrize("name", ["cem", "mppi", "random"])
def test_cuda_graphs_split_reaching_and_holding_problems_like_eager(name):
    model, z0, goal = quadratic_problem()
    model = model.cuda()
    cfg = handover_config(planner=name, hold_samples=8)
    near = goal + 0.01 * (z0 - goal)
    plans = []
    for graphs in (False, True):
        agent = constant_actor_agent(4, 4, 0.3).cuda()
        planner = Planner(model, PlannerConfig(cuda_graphs=graphs, **cfg), -np.ones(4), np.ones(4), agent=agent)
        planner.reset([5, 6])
        planner.plan(np.stack([z0, z0]), np.stack([goal, goal]))
        plans.append(planner.plan(np.stack([z0, near]), np.stack([goal, goal]), executed=1))
    eager, graphed = plans
    assert graphed.holding.tolist() == eager.holding.tolist() == [False, True]
    np.testing.assert_allclose(graphed.actions, eager.actions, atol=1e-4)
    np.testing.assert_allclose(graphed.cost, eager.cost, atol=1e-4)


def test_handover_drops_the_actors_samples_near_the_goal_only():
    model, z0, goal = quadratic_problem()  # the actor holds 0.3, which reaches the goal from z0
    cfg = dict(samples=6, elites=2, horizon=10, iterations=1, cost="l2", reward_weight=0.0, precision="fp32")
    agent = constant_actor_agent(4, 4, 0.3)
    planner = Planner(
        model,
        PlannerConfig(planner="random", prior_samples=2, handover=0.5, **cfg),
        -np.ones(4),
        np.ones(4),
        agent=agent,
    )
    planner.reset([0, 1])
    first = planner.plan(np.stack([z0, z0]), np.stack([goal, goal]))
    assert not first.holding.any()
    np.testing.assert_allclose(first.actions, 0.3, atol=1e-5)
    near = goal + 0.01 * (z0 - goal)  # within half of the first plan's distance
    second = planner.plan(np.stack([z0, near]), np.stack([goal, goal]))
    assert second.holding.tolist() == [False, True]
    np.testing.assert_allclose(second.actions[0], 0.3, atol=1e-5)  # far: the actor still leads
    assert np.abs(second.actions[1] - 0.3).max() > 0.1  # near: only Gaussian samples compete
    for bad in (dict(prior_samples=0), dict(objective="reward", reward_weight=1.0)):
        with pytest.raises(ConfigError, match="--handover"):
            PlannerConfig(**{**cfg, "prior_samples": 2, "handover": 0.5, **bad}).validate()
    with pytest.raises(ConfigError, match="--handover must lie"):
        PlannerConfig(handover=1.5).validate()


def test_hold_horizon_reads_the_goal_distance_over_its_first_steps_past_the_handover():
    model, z0, goal = quadratic_problem()
    cfg = handover_config(cost_at="every", prior_samples=2)
    planner = Planner(model, PlannerConfig(**cfg), -np.ones(4), np.ones(4), agent=constant_actor_agent(4, 4, 0.3))
    planner.reset([0, 1])
    planner.plan(np.stack([z0, z0]), np.stack([goal, goal]))
    near = goal + 0.01 * (z0 - goal)
    plan = planner.plan(np.stack([z0, near]), np.stack([goal, goal]))
    assert plan.holding.tolist() == [False, True] and plan.actions.shape == (2, 10, 4)
    np.testing.assert_allclose(plan.cost[0], plan.imagined_distance[0].mean(), rtol=1e-5)
    np.testing.assert_allclose(plan.cost[1], plan.imagined_distance[1, :3].mean(), rtol=1e-5)
    assert np.isfinite(plan.imagined_distance[0]).all() and np.isnan(plan.imagined_distance[1, 3:]).all()
    both = planner.plan(np.stack([near, near]), np.stack([goal, goal]))  # no cost reads past step 3
    assert both.holding.all() and both.imagined_distance.shape == (2, 3) and both.actions.shape == (2, 10, 4)
    np.testing.assert_allclose(both.cost, both.imagined_distance.mean(1), rtol=1e-5)
    with pytest.raises(ConfigError, match="--hold-horizon applies past --handover"):
        PlannerConfig(hold_horizon=3).validate()
    with pytest.raises(ConfigError, match="--hold-horizon must lie"):
        PlannerConfig(**{**cfg, "hold_horizon": 11}).validate()
    with pytest.raises(ConfigError, match="at least --replan-every"):
        PlannerConfig(**{**cfg, "replan_every": 4}).validate()


def test_a_problems_plan_does_not_depend_on_whether_its_batch_mates_hold():
    model, z0, goal = quadratic_problem()
    cfg = handover_config()

    def plans(starts):
        planner = Planner(model, PlannerConfig(**cfg), -np.ones(4), np.ones(4), agent=constant_actor_agent(4, 4, 0.3))
        planner.reset([0, 1])
        planner.plan(np.stack([z0, z0]), np.stack([goal, goal]))
        return planner.plan(np.stack(starts), np.stack([goal, goal]))

    near = goal + 0.01 * (z0 - goal)
    mixed, reaching = plans([z0, near]), plans([z0, 0.9 * z0 + 0.1 * goal])
    assert reaching.holding.tolist() == [False, False]
    np.testing.assert_allclose(mixed.actions[0], reaching.actions[0], atol=1e-6)
    np.testing.assert_allclose(mixed.cost[0], reaching.cost[0], rtol=1e-5)


@pytest.mark.parametrize("name", ["random", "cem", "mppi"])
def test_hold_samples_imagines_only_that_many_sequences_past_the_handover(name):
    model, z0, goal = quadratic_problem()
    cfg = handover_config(planner=name, hold_samples=8)
    planner = Planner(model, PlannerConfig(**cfg), -np.ones(4), np.ones(4), agent=constant_actor_agent(4, 4, 0.3))
    imagined, rollout = [], model.rollout
    model.rollout = lambda z, actions: imagined.append(tuple(actions.shape[:2])) or rollout(z, actions)
    planner.reset([0, 1])
    planner.plan(np.stack([z0, z0]), np.stack([goal, goal]))
    near = goal + 0.01 * (z0 - goal)
    imagined.clear()
    mixed = planner.plan(np.stack([z0, near]), np.stack([goal, goal]))
    assert mixed.holding.tolist() == [False, True]
    # the reaching problem imagines all 32 samples over 10 steps, the holding one 8 over 3 (then
    # each plan's chosen sequence once more, for the plot); the actor's prior rolls 4 step by step
    searched = [shape for shape in imagined if shape[1] > 1]
    assert searched == [(8, 3), (32, 10)] * 2 + [(1, 3), (1, 10)]
    imagined.clear()
    held = planner.plan(np.stack([near, near]), np.stack([goal, goal]))
    assert held.holding.all() and imagined == [(16, 3)] * 2 + [(2, 3)]
    assert np.isfinite(held.cost).all() and (held.cost < 0.1 * np.linalg.norm(z0 - goal)).all()
    for bad, message in (
        (dict(hold_samples=33), "--hold-samples must"),
        (dict(handover=0.0), "--hold-samples applies"),
    ):
        with pytest.raises(ConfigError, match=message):
            PlannerConfig(**{**cfg, "hold_horizon": 0, **bad}).validate()
