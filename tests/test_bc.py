"""Phase 1 (behaviour cloning) on the smoke preset: outputs, reload, baseline, bad input."""

import json
import shutil

import numpy as np
import pytest
import torch
from conftest import smoke_generate_config

from train_robots import generate_and_encode_modal as generate
from train_robots import train_bc
from train_robots.common.checkpoint import CheckpointError
from train_robots.common.data import DataError, load_dataset, load_shard, read_meta, shard_path
from train_robots.common.policy import load_policy
from train_robots.common.runtime import ConfigError, episode_seed
from train_robots.common.training import TrainingError

EVAL_KEYS = {
    "episodes",
    "success_rate",
    "mean_return",
    "std_return",
    "ms_per_action",
    "ms_per_step",
    "seeds",
    "encoder",
}
FIT_KEYS = {"train_loss", "val_loss", "val_loss_mean_action", "epochs", "encoder_id", "encoder_dim", "task", "preset"}
OUTPUTS = ("bc.pt", "bc.json", "bc_loss.png", "bc_returns.png", "bc_episode0.gif")


def bc_config(data_dir, ckpt_dir, encoder="state", **overrides) -> train_bc.Config:
    return train_bc.Config(
        task="reacher-easy",
        encoder=encoder,
        preset="smoke",
        data_dir=data_dir,
        ckpt_dir=ckpt_dir,
        device="cpu",
        **overrides,
    )


@pytest.fixture(scope="module")
def bc_data(tmp_path_factory):
    """Smoke-sized, but with enough steps per episode that there is something to learn."""
    root = tmp_path_factory.mktemp("bc_data")
    generate.main(smoke_generate_config(root, episodes=6, episode_steps=40, shard_episodes=3))
    return root


@pytest.fixture(scope="module")
def bc_run(bc_data, tmp_path_factory):
    ckpt = tmp_path_factory.mktemp("bc_ckpt")
    metrics = train_bc.main(bc_config(bc_data, ckpt))
    return ckpt / "reacher-easy" / "state", metrics


def test_writes_checkpoint_and_flat_metrics(bc_run, bc_data):
    out, metrics = bc_run
    for name in OUTPUTS:
        assert (out / name).stat().st_size > 0, name
    saved = json.loads((out / "bc.json").read_text())
    assert EVAL_KEYS | FIT_KEYS <= set(saved) and saved == metrics
    assert all(not isinstance(v, dict) for v in saved.values())  # flat
    assert saved["encoder"] == "state" and saved["encoder_dim"] == 8 and saved["episodes"] == 2
    data_seeds = {episode_seed(0, i, "data") for i in range(read_meta(bc_data / "reacher-easy" / "state")["episodes"])}
    assert not data_seeds & set(saved["seeds"])


def test_reloaded_policy_reproduces_the_validation_loss(bc_run, bc_data):
    out, metrics = bc_run
    policy = load_policy(out / "bc.pt", encoder={"name": "state", "dim": 8}, task="reacher-easy")
    data = load_dataset(bc_data / "reacher-easy" / "state")
    val = np.asarray(metrics["val_episodes"])
    z = torch.as_tensor(data.z[val, :-1].reshape(-1, 8))
    target = torch.as_tensor(data.expert_action[val].reshape(-1, 2))
    with torch.no_grad():
        actions = policy(z)
    assert torch.nn.functional.mse_loss(actions, target).item() == pytest.approx(metrics["val_loss"], rel=1e-5)
    assert torch.all(actions <= 1) and torch.all(actions >= -1)
    # and an independent baseline: always predicting the training episodes' mean expert action
    train = np.asarray(metrics["train_episodes"])
    mean_action = data.expert_action[train].reshape(-1, 2).mean(0)
    baseline = float(np.mean((data.expert_action[val].reshape(-1, 2) - mean_action) ** 2))
    assert baseline == pytest.approx(metrics["val_loss_mean_action"], rel=1e-4)
    assert metrics["val_loss"] < 0.8 * baseline


def test_checkpoint_for_another_encoder_is_refused(bc_run):
    out, _ = bc_run
    with pytest.raises(CheckpointError, match="name: recorded 'state', expected 'vjepa2-random'"):
        load_policy(out / "bc.pt", encoder={"name": "vjepa2-random", "dim": 64})


def test_rerun_reuses_finished_outputs(bc_run, bc_data, capsys):
    out, metrics = bc_run
    before = (out / "bc.pt").stat().st_mtime_ns
    again = train_bc.main(bc_config(bc_data, out.parents[1]))
    assert again == metrics and (out / "bc.pt").stat().st_mtime_ns == before
    assert "up to date" in capsys.readouterr().out


def test_single_episode_dataset_says_why_it_cannot_split(tmp_path):
    generate.main(smoke_generate_config(tmp_path / "data", episodes=1))
    with pytest.raises(TrainingError, match="1 episode.*at least 2"):
        train_bc.main(bc_config(tmp_path / "data", tmp_path / "ckpt"))


def copies(bc_run, bc_data, tmp_path):
    """(data_dir, ckpt_dir): copies of the smoke data and of a finished run's checkpoints."""
    out, _ = bc_run
    data_dir, ckpt_dir = tmp_path / "data", tmp_path / "ckpt"
    shutil.copytree(bc_data, data_dir)
    shutil.copytree(out.parents[1], ckpt_dir)
    return data_dir, ckpt_dir


def test_nan_loss_names_step_and_batch_and_keeps_the_good_checkpoint(bc_run, bc_data, tmp_path):
    data_dir, ckpt_dir = copies(bc_run, bc_data, tmp_path)
    good = (ckpt_dir / "reacher-easy" / "state" / "bc.pt").read_bytes()
    with pytest.raises(TrainingError, match=r"nan at step \d+ \(batch \d+ of epoch 1\)"):
        train_bc.main(bc_config(data_dir, ckpt_dir, force=True, lr=1e30))  # diverges at once
    assert (ckpt_dir / "reacher-easy" / "state" / "bc.pt").read_bytes() == good


def test_a_nan_latent_is_refused_before_training_naming_file_field_and_episode(bc_run, bc_data, tmp_path):
    data_dir, ckpt_dir = copies(bc_run, bc_data, tmp_path)
    path = shard_path(data_dir / "reacher-easy" / "state", 0)
    arrays = load_shard(path, read_meta(path.parent))
    arrays["z"][1, 7, 2] = np.nan
    np.savez(path, **arrays)  # as a faulty encoder or disk would leave it (save_shard refuses it)
    good = (ckpt_dir / "reacher-easy" / "state" / "bc.pt").read_bytes()
    with pytest.raises(DataError, match=r"shard-00000\.npz: field 'z' holds NaN or inf in episode 1 of this shard"):
        train_bc.main(bc_config(data_dir, ckpt_dir, force=True))
    assert (ckpt_dir / "reacher-easy" / "state" / "bc.pt").read_bytes() == good


def test_dataset_of_another_encoder_is_refused(bc_data, tmp_path):
    # a state dataset put where the vjepa2-random one belongs
    shutil.copytree(bc_data / "reacher-easy" / "state", tmp_path / "reacher-easy" / "vjepa2-random")
    with pytest.raises(DataError, match="name: recorded 'state', expected 'vjepa2-random'"):
        train_bc.main(bc_config(tmp_path, tmp_path / "ckpt", encoder="vjepa2-random"))


def test_bad_flag_is_named():
    with pytest.raises(ConfigError, match="--val-fraction"):
        train_bc.main(train_bc.Config(val_fraction=1.5))


def _walk_transitions(rng: np.random.Generator, episodes: int, steps: int) -> train_bc.Transitions:
    """Random-walk latents whose 'expert' action is the walk's last step: only the change shows it."""
    z = np.cumsum(rng.normal(size=(episodes, steps + 1, 4)), axis=1).astype(np.float32)
    previous = np.concatenate([z[:, :1], z[:, :-1]], axis=1)
    target = np.tanh(z[:, :, :2] - previous[:, :, :2])
    flat = lambda x: torch.as_tensor(x.reshape(-1, x.shape[-1]))  # noqa: E731
    return train_bc.Transitions(z=flat(z), previous=flat(previous), target=flat(target))


@pytest.mark.parametrize("latent_change", [False, True])
def test_only_a_latent_change_policy_learns_what_only_the_change_shows(latent_change, tmp_path):
    from train_robots.common.envs import ControlEnv

    rng = np.random.default_rng(0)
    train, val = _walk_transitions(rng, 40, 50), _walk_transitions(rng, 10, 50)
    cfg = bc_config(tmp_path, tmp_path, latent_change=latent_change, epochs=40, lr=3e-3)
    torch.manual_seed(0)
    policy = train_bc.build_policy(cfg, ControlEnv("reacher-easy"), train)
    fit = train_bc.train_policy(cfg, policy, train, val, tmp_path / "bc.partial.pt", lambda *args: None)
    baseline = train_bc.mean_action_loss(train, val)
    if latent_change:
        assert fit["val_loss"] < 0.1 * baseline
    else:
        assert fit["val_loss"] > 0.5 * baseline


def test_the_controller_feeds_a_latent_change_policy_the_change_since_its_last_call():
    from train_robots.common.envs import ControlEnv
    from train_robots.common.policy import PolicyController, PolicyMLP

    env = ControlEnv("reacher-easy")
    torch.manual_seed(0)
    policy = PolicyMLP(4, 2, 16, 1, env.action_low, env.action_high, latent_change=True)
    controller = PolicyController(policy)
    a, b = np.ones((3, 4), np.float32), np.full((3, 4), 2.0, np.float32)
    as_t = torch.as_tensor
    controller.reset([env], [0])
    first, second = controller.act(a), controller.act(b)
    with torch.no_grad():
        np.testing.assert_allclose(first, policy(as_t(a), as_t(a)).numpy(), atol=1e-6)  # no change at the start
        np.testing.assert_allclose(second, policy(as_t(b), as_t(a)).numpy(), atol=1e-6)
    assert not np.allclose(second, policy(as_t(b), as_t(b)).detach().numpy())
    controller.reset([env], [1])  # a new episode forgets the last one's latents
    np.testing.assert_allclose(controller.act(b), policy(as_t(b), as_t(b)).detach().numpy(), atol=1e-6)


def test_a_latent_change_run_saves_a_policy_that_reloads_with_its_validation_loss(bc_data, tmp_path):
    metrics = train_bc.main(bc_config(bc_data, tmp_path, latent_change=True))
    assert metrics["latent_change"] is True
    policy = load_policy(tmp_path / "reacher-easy" / "state" / "bc.pt", task="reacher-easy")
    assert policy.latent_change and policy.z_mean.shape == (16,)
    data = load_dataset(bc_data / "reacher-easy" / "state")
    part = train_bc.transitions(data, np.asarray(metrics["val_episodes"]), torch.device("cpu"))
    assert train_bc.mean_loss(policy, part) == pytest.approx(metrics["val_loss"], rel=1e-5)
