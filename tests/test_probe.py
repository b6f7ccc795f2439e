"""Pooling choices, the ridge probe and the collapse monitor."""

import json

import numpy as np
import pytest
import torch

from train_robots.common.collapse import CollapseError, check_collapse, clip_std, effective_rank, feature_std
from train_robots.common.data import load_dataset
from train_robots.common.envs import ControlEnv
from train_robots.common.latent_probe import probe_targets
from train_robots.common.pooling import pool, pooled_dim
from train_robots.common.probe import r2_scores, ridge_probe

NAMES = [f"q{i}" for i in range(8)]


def test_pooling_shapes_and_cell_means():
    tokens = torch.arange(16, dtype=torch.float32).reshape(1, 16, 1).repeat(2, 1, 3)  # a 4x4 grid, value = index
    assert pool(tokens, "mean", 4).shape == (2, 3) and torch.allclose(pool(tokens, "mean", 4), torch.full((2, 3), 7.5))
    cells = pool(tokens, "grid2", 4).reshape(2, 4, 3)[0, :, 0]
    assert torch.equal(cells, torch.tensor([2.5, 4.5, 10.5, 12.5]))  # top-left, top-right, bottom-left, bottom-right
    assert torch.equal(pool(tokens, "grid4", 4).reshape(2, 16, 3)[0, :, 0], torch.arange(16.0))
    assert pool(tokens, "mean+grid2", 4).shape == (2, pooled_dim("mean+grid2", 3)) == (2, 15)
    two_tubelets = torch.cat([tokens, tokens + 100], dim=1)  # tubelets are averaged before the grid
    assert torch.allclose(pool(two_tubelets, "grid2", 4).reshape(2, 4, 3)[0, :, 0], cells + 50)
    for bad in ("max", "grid3", "grid0"):
        with pytest.raises(ValueError):
            pool(tokens, bad, 4)


def probe_rows(latents, states, episodes=30, seed=0):
    episode = np.repeat(np.arange(episodes), len(latents) // episodes)
    return ridge_probe(latents, states, episode, np.arange(episodes - 6, episodes), NAMES, seed=seed)


def test_probe_reads_the_state_from_the_state_itself(state_dataset):
    data = load_dataset(state_dataset)
    states = data.z[:, 1:].reshape(-1, 8).astype(np.float64)
    episode = np.repeat(np.arange(data.episodes), data.z.shape[1] - 1)
    rng = np.random.default_rng(0)
    mixed = states @ rng.normal(size=(8, 20))  # an invertible linear view of the state
    result = ridge_probe(mixed, states, episode, np.array([data.episodes - 1]), NAMES)
    assert min(result.r2.values()) > 0.99


def test_probe_targets_place_the_ball_and_fingertip_where_the_observation_says(state_dataset):
    data = load_dataset(state_dataset)
    env = ControlEnv("reacher-easy")
    targets = probe_targets(env, data.z, data.physics)
    assert targets.names[-4:] == ["target_x", "target_y", "finger_x", "finger_y"]
    assert targets.values.shape == data.z.shape[:2] + (data.z.shape[-1] + 4,)
    names = {n: i for i, n in enumerate(targets.names)}
    v = targets.values
    # reacher's own observation: to_target is the ball's place minus the fingertip's
    for axis, k in (("x", 0), ("y", 1)):
        gap = v[..., names[f"target_{axis}"]] - v[..., names[f"finger_{axis}"]]
        assert np.allclose(gap, v[..., names[f"to_target_{k}"]], atol=1e-3)  # z is stored in float16
    assert v[..., names["finger_x"]].std() > 0.02  # the fingertip moves; the ball is still within an episode
    assert np.allclose(v[:, 1:, names["target_x"]], v[:, :1, names["target_x"]])
    rows = targets.rows(np.array([1, 0]))
    assert np.array_equal(rows[: v.shape[1] - 1], v[1, 1:])
    locomotion = probe_targets(ControlEnv("cheetah-run"), np.zeros((2, 3, 17), np.float32), np.zeros((2, 3, 18)))
    assert len(locomotion.names) == 17  # no probe geoms: the observation only


def test_probe_finds_nothing_in_noise():
    rng = np.random.default_rng(0)
    states = rng.normal(size=(3000, 8))
    result = probe_rows(rng.normal(size=(3000, 50)), states)
    assert max(result.r2.values()) < 0.05
    half = probe_rows(np.concatenate([states[:, :4], rng.normal(size=(3000, 46))], axis=1), states)
    assert min(half.r2[n] for n in NAMES[:4]) > 0.95 and max(half.r2[n] for n in NAMES[4:]) < 0.05


def test_r2_of_the_mean_is_zero_and_of_the_truth_one():
    y = np.random.default_rng(0).normal(size=(50, 2))
    assert np.allclose(r2_scores(y, y), 1.0) and np.allclose(r2_scores(y, np.broadcast_to(y.mean(0), y.shape)), 0.0)


def test_collapse_monitor():
    rng = torch.Generator().manual_seed(0)
    healthy = torch.randn(512, 32, generator=rng)
    assert feature_std(healthy) == pytest.approx(1.0, abs=0.1) and effective_rank(healthy) > 20
    constant = torch.ones(512, 32) * torch.randn(32, generator=rng)
    assert feature_std(constant) < 1e-6
    rank_one = torch.randn(512, 1, generator=rng) * torch.randn(1, 32, generator=rng)
    assert effective_rank(rank_one) < 1.1
    check_collapse(1.0, 20.0, 5, 0.05, 2.0, "kept")
    with pytest.raises(CollapseError, match="collapsed at step 7.*--lr"):
        check_collapse(feature_std(constant), effective_rank(constant), 7, 0.05, 2.0, "kept")
    with pytest.raises(CollapseError):
        check_collapse(float("nan"), 20.0, 7, 0.05, 2.0, "kept")


def test_clip_std_sees_clips_that_differ_only_by_position_as_collapsed():
    rng = torch.Generator().manual_seed(0)
    background = torch.randn(1, 64, 32, generator=rng).expand(16, -1, -1)  # tokens differ, clips do not
    assert feature_std(background) > 0.5 and clip_std(background) < 1e-6
    objects = background.clone()
    objects[:, 5] += torch.randn(16, 32, generator=rng) * 8  # one token per clip shows something different
    assert clip_std(objects) > 0.1  # 8 / 64 tokens


def test_the_comparison_table_shows_the_latent_probe(tmp_path):
    from train_robots.common.latent_probe import probe_markdown, read_probe
    from train_robots.train_dream_sac import write_comparison

    assert read_probe(tmp_path) is None and probe_markdown(None) == ""
    pretrain = {"probe_seconds": 3.0, "probe_mean_to_target_0": 0.1, "probe_mean+grid2_to_target_0": 0.5}
    pretrain |= {"probe_mean+grid2_target_x": 0.9, "probe_mean_target_x": 0.2, "steps": 10}
    (tmp_path / "pretrain.json").write_text(json.dumps(pretrain))
    probe = read_probe(tmp_path)
    assert probe["source"] == "pretrain.json"
    assert probe["r2"] == {
        "mean": {"to_target_0": 0.1, "target_x": 0.2},
        "mean+grid2": {"to_target_0": 0.5, "target_x": 0.9},
    }
    probe = {"probe_grid4_velocity_0": 0.25, "probe_mlp-grid4_velocity_0": 0.75, "seconds": 1}
    (tmp_path / "probe.json").write_text(json.dumps(probe))
    assert read_probe(tmp_path) == {
        "source": "probe.json",
        "r2": {"grid4": {"velocity_0": 0.25}, "mlp-grid4": {"velocity_0": 0.75}},
    }
    rows = [{"method": "BC", "encoder": "vjepa2-task", "status": "not run", "source": "bc.json"}]
    write_comparison(tmp_path, rows, "reacher-easy", tmp_path)
    table = (tmp_path / "comparison.md").read_text()
    assert "| BC | vjepa2-task | not run |" in table
    assert "| ridge | grid4 | 0.25 |" in table and "| MLP | grid4 | 0.75 |" in table
    assert "fresh starts" not in table
    (tmp_path / "probe-poses.json").write_text(json.dumps({"probe_grid2_to_target_0": 0.92, "frames": "poses"}))
    write_comparison(tmp_path, rows, "reacher-easy", tmp_path)
    table = (tmp_path / "comparison.md").read_text()
    assert "| ridge | grid4 | 0.25 |" in table  # the data's probe stays
    assert "`probe-poses.json`, fresh starts of the task" in table and "| ridge | grid2 | 0.92 |" in table


def test_mlp_probe_reads_what_is_there_but_not_linear_and_nothing_from_noise():
    from train_robots.common.mlp_probe import mlp_probe

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(3000, 4))
    states = np.stack([x[:, 0] * x[:, 1], np.abs(x[:, 2]), rng.normal(size=3000)], axis=1)  # products, folds, noise
    episode = np.repeat(np.arange(30), 100)
    held_out = np.arange(24, 30)
    names = ["product", "fold", "noise"]
    mlp = mlp_probe(x, states, episode, held_out, names)
    ridge = ridge_probe(x, states, episode, held_out, names)
    assert mlp.r2["product"] > 0.8 and mlp.r2["fold"] > 0.8 and mlp.r2["noise"] < 0.05
    assert ridge.r2["product"] < 0.1 and ridge.r2["fold"] < 0.1
    assert mlp_probe(x, states, episode, held_out, names).r2 == mlp.r2  # seeded: repeats exactly


def test_the_fingertip_is_out_of_view_inside_the_ball_and_in_view_elsewhere():
    env = ControlEnv("reacher-easy")
    env.reset(3)
    assert env.probe_geoms_in_view(64)
    state = env.get_state()
    state[-2:] = env.geom_positions()[2:4]  # the ball (the state's last entries) moved onto the fingertip
    env.set_state(state)
    assert not env.probe_geoms_in_view(64) and not env.probe_geoms_in_view(256)
    physics = np.stack([env.get_state(), state])[None]  # one episode: ball elsewhere, then on the fingertip
    physics[0, 0, -2:] = -physics[0, 0, -2:]
    targets = probe_targets(env, np.zeros((1, 2, env.obs_dim), np.float32), physics)
    assert targets.in_view.tolist() == [[True, False]]


def test_the_probe_also_scores_the_frames_where_the_probe_geoms_show():
    from train_robots.common.latent_probe import IN_VIEW, ProbeTargets, flat_r2, probe_markdown, read_out

    rng = np.random.default_rng(0)
    episodes, steps = 30, 50
    values = rng.normal(size=(episodes, steps + 1, 2)).astype(np.float32)
    in_view = rng.random((episodes, steps + 1)) < 0.3
    # the latent carries the quantities only in the frames where they show, nothing elsewhere
    latent = np.where(in_view[..., None], values, 0.0)[:, 1:].reshape(-1, 2)
    noise = rng.normal(size=(len(latent), 6))
    targets = ProbeTargets(values, ["a", "b"], in_view)
    everyone = np.arange(episodes)
    results = read_out({"grid2": np.concatenate([latent, noise], 1)}, targets, everyone, everyone[-6:])
    assert set(results) == {"grid2", f"grid2{IN_VIEW}"}
    assert results["grid2"].r2["a"] < 0.5 < 0.9 < results[f"grid2{IN_VIEW}"].r2["a"]
    assert len(results[f"grid2{IN_VIEW}"].predicted) == in_view[-6:, 1:].sum()
    flat = flat_r2(results)
    assert f"probe_grid2{IN_VIEW}_a" in flat
    assert "| ridge | grid2, in view |" in probe_markdown(
        {"source": "probe.json", "r2": {k: r.r2 for k, r in results.items()}}
    )
    no_geoms = read_out({"grid2": latent}, ProbeTargets(values, ["a", "b"]), everyone, everyone[-6:])
    assert set(no_geoms) == {"grid2"}


def test_reset_poses_are_seeded_fresh_starts_each_one_random_action_on():
    from train_robots.common.latent_probe import reset_poses

    env = ControlEnv("reacher-easy")
    poses = reset_poses(env, 200, seed=0)
    assert poses.physics.shape == (200, 2, env.state_dim) and poses.observations.shape == (200, 2, env.obs_dim)
    for i in (0, 199):  # the observations are those of the stored states
        for t in (0, 1):
            env.set_state(poses.physics[i, t])
            assert np.allclose(env.observation(), poses.observations[i, t], atol=1e-6)
    velocity = slice(env.obs_dim - 2, env.obs_dim)
    assert np.all(poses.observations[:, 0, velocity] == 0) and np.all(poses.observations[:, 1, velocity] != 0)
    # every pose evenly: the shoulder's angle over the whole circle, the elbow's both ways, targets everywhere
    shoulder = np.arctan2(poses.observations[:, 0, 2], poses.observations[:, 0, 0])
    assert np.histogram(shoulder, bins=4, range=(-np.pi, np.pi))[0].min() > 30
    assert (poses.observations[:, 0, 3] > 0.3).mean() > 0.2 and (poses.observations[:, 0, 3] < -0.3).mean() > 0.2
    assert poses.physics[:, 0, -2:].std(axis=0).min() > 0.05
    assert np.array_equal(reset_poses(env, 200, seed=0).physics, poses.physics)
    assert not np.allclose(reset_poses(env, 200, seed=1).physics, poses.physics)


def test_the_probe_script_reads_reset_poses_into_its_own_file(tmp_path):
    from train_robots import probe_encoder
    from train_robots.common.runtime import ConfigError

    common = dict(task="reacher-easy", preset="smoke", data_dir=tmp_path / "no-data", ckpt_dir=tmp_path, device="cpu")
    state = probe_encoder.main(probe_encoder.Config(encoder="state", frames="poses", poses=100, **common))
    assert state["frames"] == "poses" and state["episodes"] == 100 and state["test_episodes"] == 20
    assert state["probe_state_cos_position_1"] > 0.999 and state["probe_state_velocity_0"] > 0.999
    assert state["in_view_share"] > 0.5  # fresh starts rarely put the fingertip inside the ball
    out = tmp_path / "reacher-easy" / "state"
    assert [p.name for p in out.iterdir()] == ["probe-poses.json"]  # never the dataset probe's probe.json
    random = probe_encoder.main(
        probe_encoder.Config(encoder="vjepa2-random", frames="poses", poses=60, poolings=("grid2",), **common)
    )
    assert random["frames"] == "poses" and np.isfinite(random["probe_mlp-grid2_to_target_0"])
    for overrides, match in [
        ({"frames": "video"}, "--frames 'video' is unknown"),
        ({"frames": "poses", "episodes": 10}, "set --poses instead"),
        ({"frames": "poses", "poses": 5}, "too few"),
    ]:
        with pytest.raises(ConfigError, match=match):
            probe_encoder.main(probe_encoder.Config(encoder="state", **common, **overrides))


def test_the_probe_names_poolings_too_wide_for_a_quick_ridge(capsys):
    from train_robots.probe_encoder import warn_wide_poolings

    warn_wide_poolings(("mean", "grid2", "grid4"), 192)  # the task encoder: grid4 is 3072 floats
    assert capsys.readouterr().out == ""
    warn_wide_poolings(("mean", "grid2", "grid4"), 1024)  # vjepa2-random's width
    out = capsys.readouterr().out
    assert "grid4 (16384 floats)" in out and "grid2" not in out
