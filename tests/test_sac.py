"""Phase 5: SAC learns, the uncertainty penalty bites, policies reload exactly, the script runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from train_robots import train_dream_sac
from train_robots.common.checkpoint import CheckpointError
from train_robots.common.data import load_dataset
from train_robots.common.envs import ControlEnv
from train_robots.common.runtime import ConfigError
from train_robots.common.sac import ReplayBuffer, SACAgent, SACConfig, SACController, load_agent, save_agent
from train_robots.common.world_model import WorldModel, WorldModelConfig, load_world_model

D, A = 8, 2  # reacher state: (cos, sin) of 2 angles, to_target, velocity
ENCODER = {"name": "state", "id": "state:reacher-easy", "dim": D, "image_size": None}


def make_agent(seed: int = 0, **changes) -> SACAgent:
    torch.manual_seed(seed)
    cfg = SACConfig(latent_dim=D, action_dim=A, hidden=32, **changes)
    return SACAgent(cfg, np.zeros(D), np.ones(D), -np.ones(A, np.float32), np.ones(A, np.float32))


def random_batch(n: int = 64, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "z": torch.randn(n, D, generator=g),
        "action": torch.rand(n, A, generator=g) * 2 - 1,
        "reward": torch.rand(n, generator=g),
        "next_z": torch.randn(n, D, generator=g),
        "discount": torch.ones(n),
    }


def test_updates_change_the_actor_and_track_the_targets():
    agent = make_agent()
    z = torch.randn(16, D)
    before = agent.act(z, deterministic=True).detach().clone()
    target_before = [p.clone() for p in agent.critic_target.parameters()]
    for step in range(5):
        losses = agent.update(random_batch(seed=step))
    after = agent.act(z, deterministic=True).detach()
    assert not torch.allclose(before, after)
    assert all(np.isfinite(v) for v in losses.values())
    # Polyak: the targets move, but only a little (tau = 0.005) towards the online critics
    moved = [(p - q).abs().max().item() for p, q in zip(agent.critic_target.parameters(), target_before)]
    assert max(moved) > 0
    online = [(p - q).abs().max().item() for p, q in zip(agent.critic.parameters(), agent.critic_target.parameters())]
    assert max(moved) < max(online)


def test_actions_stay_in_the_box_and_temperature_adapts():
    torch.manual_seed(0)
    cfg = SACConfig(latent_dim=D, action_dim=A, hidden=32)
    low, high = np.array([-0.5, 0.0], np.float32), np.array([0.5, 2.0], np.float32)
    agent = SACAgent(cfg, np.zeros(D), np.ones(D), low, high)
    actions = agent.act(torch.randn(512, D) * 10)
    assert (actions >= torch.as_tensor(low)).all() and (actions <= torch.as_tensor(high)).all()
    alpha0 = agent.alpha.item()
    for step in range(3):
        agent.update(random_batch(seed=step))
    assert agent.alpha.item() != alpha0


def test_bc_weight_pulls_the_actor_towards_expert_actions():
    z = torch.randn(128, D)
    expert = torch.full((128, A), 0.7)
    errors = {}
    for weight in (0.0, 10.0):
        agent = make_agent(bc_weight=weight)
        for step in range(30):
            agent.update(random_batch(seed=step), bc_z=z, bc_action=expert)
        errors[weight] = (agent.act(z, deterministic=True) - expert).abs().mean().item()
    assert errors[10.0] < errors[0.0]


def ensemble_model(seed: int = 0) -> WorldModel:
    torch.manual_seed(seed)
    model = WorldModel(WorldModelConfig(latent_dim=D, action_dim=A, ensemble=2, width=16, depth=1))
    with torch.no_grad():
        model.set_statistics(torch.randn(3, 5, D), torch.rand(3, 4, A) * 2 - 1, torch.rand(3, 4) * 2)
        for member in model.members:
            member.reward_head[-1].bias.fill_(1.0)
    return model.eval()


def test_uncertainty_penalty_lowers_the_imagined_reward_where_members_disagree():
    model = ensemble_model()
    agent = make_agent()
    z0 = torch.randn(32, D)
    with torch.no_grad():  # members agree exactly: the penalty changes nothing
        model.members[1].load_state_dict(model.members[0].state_dict())
    torch.manual_seed(1)
    agree_plain, _ = train_dream_sac.imagine(model, agent, z0, 3, 0.0, float("inf"))
    torch.manual_seed(1)
    agree_penalised, _ = train_dream_sac.imagine(model, agent, z0, 3, 5.0, float("inf"))
    torch.testing.assert_close(agree_plain["reward"], agree_penalised["reward"])
    with torch.no_grad():  # now one member predicts a different next latent
        model.members[1].out.bias.add_(torch.linspace(-1, 1, D))
    torch.manual_seed(1)
    plain, stats = train_dream_sac.imagine(model, agent, z0, 3, 0.0, float("inf"))
    torch.manual_seed(1)
    penalised, _ = train_dream_sac.imagine(model, agent, z0, 3, 5.0, float("inf"))
    assert stats["dream_uncertainty"] > 0
    assert (penalised["reward"] < plain["reward"]).all()
    u = train_dream_sac.dream_step(model, plain["z"], plain["action"], True)["uncertainty"]
    torch.testing.assert_close(plain["reward"] - penalised["reward"], 5.0 * u)


def test_reward_disagreement_counts_as_uncertainty():
    model = ensemble_model()
    with torch.no_grad():  # same dynamics, different reward heads
        model.members[1].load_state_dict(model.members[0].state_dict())
        model.members[1].reward_head[-1].bias.add_(0.5)
    z, a = torch.randn(16, D), torch.rand(16, A) * 2 - 1
    with torch.no_grad():
        latent_only = train_dream_sac.dream_step(model, z, a, reward_disagreement=False)["uncertainty"]
        both = train_dream_sac.dream_step(model, z, a, reward_disagreement=True)["uncertainty"]
    torch.testing.assert_close(latent_only, torch.zeros(16))
    torch.testing.assert_close(both, torch.full((16,), 0.25))  # std of two rewards 0.5 apart


def test_rollouts_that_leave_the_data_are_truncated():
    model = ensemble_model()
    with torch.no_grad():
        model.members[1].out.bias.add_(torch.linspace(-1, 1, D))
    agent = make_agent()
    z0 = torch.randn(32, D)
    torch.manual_seed(2)  # the same actor samples as the truncated run below
    full, _ = train_dream_sac.imagine(model, agent, z0, 3, 0.0, float("inf"))
    u = train_dream_sac.dream_step(model, full["z"], full["action"], False)["uncertainty"]
    threshold = u.median().item()
    torch.manual_seed(2)
    cut, stats = train_dream_sac.imagine(model, agent, z0, 3, 0.0, threshold)
    assert 0 < len(cut["z"]) < len(full["z"]) and stats["dream_kept"] < 1
    # halting keeps the step that left the data, as a terminal worth the lowest reward
    torch.manual_seed(2)
    halted, stats = train_dream_sac.imagine(model, agent, z0, 3, 0.0, threshold, halt_reward=-3.0)
    left = halted["discount"] == 0
    assert left.sum().item() == round(stats["dream_left_data"] * len(z0)) > 0
    assert (halted["reward"][left] == -3.0).all() and (halted["reward"][~left] > -3.0).all()
    assert len(halted["z"]) == len(cut["z"]) + left.sum().item()


def test_saved_policy_reloads_and_acts_identically(tmp_path):
    agent = make_agent()
    for step in range(3):
        agent.update(random_batch(seed=step))
    path = tmp_path / "sac.pt"
    save_agent(path, agent, "reacher-easy", ENCODER, step=3, metrics={}, config={"training": {}})
    loaded, payload = load_agent(path, encoder=ENCODER, task="reacher-easy")
    assert payload["step"] == 3
    z = np.random.default_rng(0).standard_normal((20, D)).astype(np.float32)
    original, reloaded = SACController(agent), SACController(loaded)
    for latent in z:
        np.testing.assert_array_equal(original.act(latent), reloaded.act(latent))
    # optimiser state travels too: one more identical update keeps them identical
    agent.train(), loaded.train()
    torch.manual_seed(5)
    agent.update(random_batch(seed=9))
    torch.manual_seed(5)
    loaded.update(random_batch(seed=9))
    for p, q in zip(agent.parameters(), loaded.parameters()):
        torch.testing.assert_close(p, q)
    with pytest.raises(CheckpointError, match="dim: recorded 8, expected 7"):
        load_agent(path, encoder={**ENCODER, "dim": 7})


def test_replay_buffer_wraps_around():
    buffer = ReplayBuffer(10, D, A)
    batch = random_batch(n=7)
    buffer.add(batch)
    buffer.add(random_batch(n=7, seed=1))
    assert len(buffer) == 10 and buffer.cursor == 4
    # the newest transitions overwrote the oldest slots
    torch.testing.assert_close(buffer.data["reward"][:4], random_batch(n=7, seed=1)["reward"][3:])
    torch.testing.assert_close(buffer.data["reward"][4:7], batch["reward"][4:7])
    assert buffer.sample(5)["z"].shape == (5, D)


def test_replay_buffer_state_restores_the_ring_or_unrolls_it_into_another_capacity():
    buffer = ReplayBuffer(10, D, A)
    buffer.add(random_batch(n=7))
    buffer.add(random_batch(n=7, seed=1))  # wrapped: cursor 4
    state = buffer.state_dict()
    assert state["data"]["z"].untyped_storage().nbytes() == 10 * D * 4  # the filled part, not more
    same = ReplayBuffer(10, D, A)
    same.load_state_dict(state)
    assert (same.size, same.cursor) == (10, 4)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    torch.testing.assert_close(same.sample(6, g1), buffer.sample(6, g2))  # a resumed run samples the same
    bigger = ReplayBuffer(16, D, A)
    bigger.load_state_dict(state)
    assert (bigger.size, bigger.cursor) == (10, 10)
    oldest_first = torch.cat([buffer.data["reward"][4:], buffer.data["reward"][:4]])
    torch.testing.assert_close(bigger.data["reward"][:10], oldest_first)
    with pytest.raises(ValueError, match="does not fit"):
        ReplayBuffer(8, D, A).load_state_dict(state)
    with pytest.raises(ValueError, match="field 'z'"):
        ReplayBuffer(10, D + 1, A).load_state_dict(state)


def test_controller_acts_within_the_env_bounds():
    env = ControlEnv("reacher-easy")
    agent = make_agent()
    controller = SACController(agent)
    env.reset(0)
    controller.reset([env], [0])
    actions = controller.act(np.stack([env.observation(), -env.observation()]))
    assert actions.shape == (2, env.action_dim) and actions.dtype == np.float32
    action = actions[0]
    assert np.all(action >= env.action_low) and np.all(action <= env.action_high)


def test_config_errors_name_the_flag():
    with pytest.raises(ConfigError, match="--truncate-quantile"):
        train_dream_sac.Config(truncate_quantile=0.0, preset="smoke").resolved().validate()
    with pytest.raises(ConfigError, match="--horizon"):
        train_dream_sac.Config(horizon=0, preset="smoke").resolved().validate()
    with pytest.raises(ConfigError, match="--imagined-starts"):
        train_dream_sac.Config(imagined_starts=0, preset="smoke").resolved().validate()


def test_comparison_marks_missing_phases_not_run(tmp_path):
    metrics = {"success_rate": 1.0, "mean_return": 900.0, "std_return": 5.0, "ms_per_action": 0.2, "episodes": 2}
    (tmp_path / "bc.json").write_text(json.dumps({**metrics, "mean_return": 500.0, "encoder": "state"}))
    rows = train_dream_sac.comparison_rows(tmp_path, metrics, metrics, "state")
    by_method = {r["method"]: r for r in rows}
    assert list(by_method) == ["expert", "BC", "CEM", "MPPI", "dream-SAC"]
    assert by_method["BC"]["mean_return"] == 500.0 and by_method["CEM"]["status"] == "not run"
    table = train_dream_sac.comparison_markdown(rows, "reacher-easy")
    assert "| MPPI | state | not run |" in table and "500.0" in table


def test_train_dream_sac_main_writes_metrics_and_resumes(state_dataset, tmp_path):
    from train_robots import train_dynamics

    data_dir, ckpt_dir = state_dataset.parents[1], tmp_path / "ckpt"
    common = dict(task="reacher-easy", encoder="state", preset="smoke", device="cpu", data_dir=data_dir)
    train_dynamics.main(train_dynamics.Config(**common, ckpt_dir=ckpt_dir, ensemble=2, rollout_steps=1))
    cfg = train_dream_sac.Config(**common, ckpt_dir=ckpt_dir, rollout_batch=64, hidden=32, batch_size=32)
    metrics = train_dream_sac.main(cfg)
    out = ckpt_dir / "reacher-easy" / "state"
    saved = json.loads((out / "sac.json").read_text())
    for key in ("episodes", "success_rate", "mean_return", "std_return", "ms_per_action", "ms_per_step", "seeds"):
        assert key in saved, key
    assert saved["encoder"] == "state" and saved["step"] == 20 and saved["episodes"] == 2
    assert saved["config"]["uncertainty_penalty"] == cfg.uncertainty_penalty
    assert [r["method"] for r in saved["comparison"]] == ["expert", "BC", "CEM", "MPPI", "dream-SAC"]
    assert saved["comparison"][0]["mean_return"] > 0  # the expert reaches the target even in 25 steps
    assert len(saved["curve_real_return"]) == 2 and len(saved["curve_imagined_return"]) == 2
    for name in ("sac.pt", "sac_curves.png", "sac_eval.png", "sac.gif", "comparison.md"):
        assert (out / name).exists(), name
    assert metrics["mean_return"] == saved["mean_return"]
    # more updates: the run resumes from the saved step instead of starting over
    longer = train_dream_sac.main(train_dream_sac.Config(**{**cfg.__dict__, "updates": 30, "imagined_starts": 1}))
    assert longer["step"] == 30 and len(longer["curve_real_return"]) == 3
    # the imagined return dreams from the first --imagined-starts episodes only
    data = load_dataset(state_dataset)
    model = load_world_model(out / "dynamics.pt", encoder=data.meta["encoder"], task="reacher-easy")
    agent, _ = load_agent(out / "sac.pt", encoder=data.meta["encoder"], task="reacher-easy")
    first = train_dream_sac.imagined_return(model, agent.eval(), torch.as_tensor(data.z[:1, 0]), 25)
    assert longer["imagined_return"] == pytest.approx(first, rel=1e-5)
    assert train_dream_sac.imagined_return(model, agent, torch.as_tensor(data.z[:, 0]), 25) != pytest.approx(first)
    # other settings on the same sac.pt are refused, naming the difference
    with pytest.raises(ConfigError, match="uncertainty_penalty"):
        train_dream_sac.main(train_dream_sac.Config(**{**cfg.__dict__, "uncertainty_penalty": 2.0}))
