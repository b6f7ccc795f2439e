"""train_dynamics.py on the smoke preset: outputs, quality against copying, bad input."""

import copy
import json
import math
import shutil

import pytest
import torch

from tests.conftest import smoke_generate_config
from train_robots import generate_and_encode_modal as generate
from train_robots import train_dream_sac, train_dynamics
from train_robots.common.checkpoint import CheckpointError
from train_robots.common.data import load_dataset
from train_robots.common.imagination import imagination
from train_robots.common.training import TrainingError, split_episodes
from train_robots.common.world_model import load_world_model

ENCODER = {"name": "state", "dim": 8}


def smoke_config(data_dir, ckpt_dir, **overrides) -> train_dynamics.Config:
    fields = dict(task="reacher-easy", encoder="state", preset="smoke", device="cpu", data_dir=data_dir)
    return train_dynamics.Config(ckpt_dir=ckpt_dir, **{**fields, **overrides})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A one-step MLP trained once on 20 smoke state episodes: (config, metrics, output folder).
    (The session's 4-episode dataset validates on one episode: too few to tell a model from copying
    reliably; a settling expert's data, where copying is nearly exact at rest, tipped it.)"""
    data_dir = generate.main(smoke_generate_config(tmp_path_factory.mktemp("data"), episodes=20)).parents[1]
    cfg = smoke_config(data_dir, tmp_path_factory.mktemp("ckpt"), rollout_steps=1, steps=1000, width=64)
    metrics = train_dynamics.main(cfg)
    return cfg, metrics, cfg.ckpt_dir / "reacher-easy" / "state"


def test_writes_checkpoint_metrics_and_plots(trained):
    _, metrics, out = trained
    saved = json.loads((out / "dynamics.json").read_text())
    for key in ("model", "val_loss_1step", "rollout_error", "copy_baseline_error", "reward_mae"):
        assert key in saved, key
    assert saved["model"] == "mlp" and saved["encoder"] == "state"
    # Smoke episodes have 25 steps, so the horizons stop there.
    assert set(saved["rollout_error"]) == set(saved["copy_baseline_error"]) == {"1", "5", "10", "25"}
    assert (out / "dynamics_horizon.png").stat().st_size > 0
    assert not (out / "dynamics.partial.pt").exists()
    model = load_world_model(out / "dynamics.pt", encoder=ENCODER, task="reacher-easy")
    assert model.cfg.latent_dim == 8 and model.cfg.kind == "mlp"


def test_trained_model_beats_copying_at_one_step(trained):
    _, metrics, _ = trained
    assert metrics["rollout_error"]["1"] < 0.8 * metrics["copy_baseline_error"]["1"]


def test_open_loop_errors_start_across_each_episode_not_only_at_its_first_step(trained):
    """The error at h averages rollouts from every 5th step that reach h: with the horizon as long
    as the episode, h1 is not measured from the first (resting) step alone."""
    cfg, metrics, out = trained
    data = load_dataset(cfg.dataset_folder())
    _, val_idx = split_episodes(data.episodes, cfg.val_fraction, cfg.seed)
    steps = data.action.shape[1]  # 25 smoke steps: starts 0, 5, ..., 20
    starts = list(range(0, steps, train_dynamics.EVAL_STRIDE))
    assert metrics["horizon"] == steps
    assert metrics["rollouts_per_horizon"] == {
        "1": len(val_idx) * len(starts),
        "25": len(val_idx),
        **{str(h): len(val_idx) * sum(s + h <= steps for s in starts) for h in (5, 10)},
    }
    model = load_world_model(out / "dynamics.pt", encoder=ENCODER, task="reacher-easy")
    zn = model.normalize(torch.as_tensor(data.subset(val_idx).z))
    one_step_copy = (zn[:, [s + 1 for s in starts]] - zn[:, starts]).abs().mean()
    assert metrics["copy_baseline_error"]["1"] == pytest.approx(float(one_step_copy), rel=1e-5)
    for parameter in model.members[0].out.parameters():  # an untrained residual: the copy baseline
        torch.nn.init.zeros_(parameter)
    untrained = train_dynamics.evaluate(model, data.subset(val_idx), steps, torch.device("cpu"))
    assert untrained["rollout_error"] == pytest.approx(untrained["copy_baseline_error"])


def test_rerun_reuses_the_finished_model(trained, capsys):
    cfg, metrics, out = trained
    before = (out / "dynamics.pt").read_bytes()
    again = train_dynamics.main(cfg)
    assert "already trained" in capsys.readouterr().out
    assert (out / "dynamics.pt").read_bytes() == before  # planner results keyed on its hash stay valid
    assert again["rollout_error"] == metrics["rollout_error"]


def test_nan_loss_stops_and_keeps_the_old_checkpoint(trained, tmp_path):
    cfg, _, out = trained
    ckpt_dir = tmp_path / "ckpt"
    shutil.copytree(out, ckpt_dir / "reacher-easy" / "state")
    old = (ckpt_dir / "reacher-easy" / "state" / "dynamics.pt").read_bytes()
    exploding = smoke_config(cfg.data_dir, ckpt_dir, rollout_steps=1, lr=1e30)
    with pytest.raises(TrainingError, match=r"at step \d+ \(batch \d+ of epoch \d+.*last good checkpoint"):
        train_dynamics.main(exploding)
    assert (ckpt_dir / "reacher-easy" / "state" / "dynamics.pt").read_bytes() == old


@pytest.mark.parametrize("model", ["transformer", "mlp"])
def test_multi_step_and_transformer_train(state_dataset, tmp_path, model):
    cfg = smoke_config(state_dataset.parents[1], tmp_path, model=model, ensemble=2, rollout_steps=3, steps=20)
    metrics = train_dynamics.main(cfg)
    assert metrics["model"] == model and metrics["ensemble"] == 2 and metrics["rollout_steps"] == 3
    assert metrics["uncertainty"]["1"] > 0  # members disagree
    loaded = load_world_model(tmp_path / "reacher-easy" / "state" / "dynamics.pt", encoder=ENCODER)
    assert loaded.cfg.kind == model and len(loaded.members) == 2


def test_compare_mode_writes_every_kind(state_dataset, tmp_path):
    results = train_dynamics.main(smoke_config(state_dataset.parents[1], tmp_path, compare=True, steps=10))
    out = tmp_path / "reacher-easy" / "state"
    saved = json.loads((out / "dynamics_compare.json").read_text())
    assert list(results) == ["mlp-1step", "mlp-5step", "ensemble5-mlp-5step", "transformer-5step"]
    assert set(saved) == set(results)
    assert (out / "dynamics_compare.png").stat().st_size > 0


def test_single_episode_dataset_is_refused(tmp_path):
    data = generate.main(smoke_generate_config(tmp_path / "data", episodes=1, shard_episodes=1))
    with pytest.raises(TrainingError, match="1 episode.*at least 2"):
        train_dynamics.main(smoke_config(data.parents[1], tmp_path / "ckpt"))


def test_checkpoint_of_another_encoder_is_refused(trained):
    _, _, out = trained
    with pytest.raises(CheckpointError, match="dim: recorded 8, expected 1024"):
        load_world_model(out / "dynamics.pt", encoder={"name": "state", "dim": 1024})


def test_bad_flags_are_named(state_dataset, tmp_path):
    with pytest.raises(ValueError, match="--model"):
        train_dynamics.main(smoke_config(state_dataset.parents[1], tmp_path, model="rnn"))
    with pytest.raises(ValueError, match="--rollout-steps"):
        train_dynamics.main(smoke_config(state_dataset.parents[1], tmp_path, rollout_steps=0))
    with pytest.raises(ValueError, match="episodes have 25"):
        train_dynamics.main(smoke_config(state_dataset.parents[1], tmp_path, rollout_steps=30))


def test_interrupted_run_resumes_from_its_progress_checkpoint(state_dataset, tmp_path, monkeypatch, capsys):
    cfg = smoke_config(state_dataset.parents[1], tmp_path, rollout_steps=2, steps=20)
    monkeypatch.setattr(train_dynamics, "SAVE_EVERY", 5)
    real_loss, calls = train_dynamics.sequence_loss, []

    def interrupted(*args, **kwargs):  # the run is killed during its 13th step
        calls.append(1)
        if len(calls) == 13:
            raise KeyboardInterrupt
        return real_loss(*args, **kwargs)

    monkeypatch.setattr(train_dynamics, "sequence_loss", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_dynamics.main(cfg)
    out = tmp_path / "reacher-easy" / "state"
    assert (out / "dynamics.partial.pt").exists() and not (out / "dynamics.pt").exists()
    monkeypatch.setattr(train_dynamics, "sequence_loss", real_loss)
    train_dynamics.main(cfg)
    assert "resuming at step 10 of 20" in capsys.readouterr().out
    assert (out / "dynamics.pt").exists() and not (out / "dynamics.partial.pt").exists()


def test_imagined_rewards_never_leave_the_data_range(trained, state_dataset):
    """Far off the data the reward head extrapolates; no imagination path may pay more than the data's maximum."""
    cfg, _, out = trained
    data = load_dataset(state_dataset)
    train_idx, _ = split_episodes(data.episodes, cfg.val_fraction, cfg.seed)
    low, high = float(data.reward[train_idx].min()), float(data.reward[train_idx].max())
    model = load_world_model(out / "dynamics.pt", encoder=ENCODER)
    assert (model.reward_low.item(), model.reward_high.item()) == (low, high) == (0.0, 2.0)
    # 256 action sequences per real start, 30 steps of pushes up to 10x the [-1, 1] bounds the data holds
    z0 = torch.as_tensor(data.z[:, 0]).repeat(256, 1)
    actions = 10 * (2 * torch.rand(len(z0), 30, 2, generator=torch.Generator().manual_seed(0)) - 1)
    unbounded = copy.deepcopy(model)
    unbounded.reward_low.fill_(-math.inf), unbounded.reward_high.fill_(math.inf)
    with torch.no_grad():
        raw = unbounded.rollout(z0, actions)["reward"]
        assert raw.max() > high and raw.min() < low  # the head alone does extrapolate on these
        folded, an = model.fold(), model.normalize_action(actions)
        imagined = {
            "rollout": model.rollout(z0, actions)["reward"],
            "reward": model.reward(z0, actions[:, 0]),
            "dream_step": train_dream_sac.dream_step(model, z0, actions[:, 0], reward_disagreement=True)["reward"],
            "planner": imagination(model, None, need_reward=True)(z0, actions[:, None], True)["reward"],
            "folded": folded.step(folded.encode(model.normalize(z0)), an[:, 0])[2],
        }
    for path, reward in imagined.items():
        assert low <= reward.min() and reward.max() <= high, path
    torch.testing.assert_close(imagined["rollout"], raw.clamp(low, high))  # within the range, the head decides
