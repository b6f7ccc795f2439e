"""Phases 1-2: shards are deterministic, validated on load, resumable, never mixed."""

import json
import shutil

import numpy as np
import pytest
import torch
from conftest import smoke_generate_config

from train_robots import generate_and_encode_modal as generate
from train_robots.common.data import (
    SHARD_SCHEMA,
    DataError,
    load_dataset,
    load_shard,
    read_meta,
    save_shard,
    shard_path,
)
from train_robots.common.encoders import build_encoder
from train_robots.common.envs import ControlEnv
from train_robots.common.presets import get_preset
from train_robots.common.runtime import ConfigError


def test_shards_follow_the_schema(state_dataset):
    meta = read_meta(state_dataset)
    assert meta["task"] == "reacher-easy" and meta["encoder"]["name"] == "state"
    shard = load_shard(shard_path(state_dataset, 0), meta)
    e, t = meta["shard_episodes"], meta["episode_steps"]
    assert shard["z"].shape == (e, t + 1, meta["latent_dim"]) and shard["z"].dtype == np.float16
    assert shard["action"].shape == (e, t, 2) and shard["physics"].shape == (e, t + 1, meta["physics_dim"])
    for key, (dtype, _) in SHARD_SCHEMA.items():
        assert shard[key].dtype == dtype, key
    # about 30% of the actions are the random exploratory ones, the rest the expert's
    data = load_dataset(state_dataset)
    assert 0.15 < data.is_random.mean() < 0.45
    expert_steps = ~data.is_random
    np.testing.assert_array_equal(data.action[expert_steps], data.expert_action[expert_steps])
    assert data.episodes == meta["episodes"]


def test_same_seed_same_data_other_seed_other_data(tmp_path, state_dataset):
    again = generate.main(smoke_generate_config(tmp_path / "a"))
    other = generate.main(smoke_generate_config(tmp_path / "b", seed=1))
    meta = read_meta(state_dataset)
    first = load_shard(shard_path(state_dataset, 0), meta)
    second = load_shard(shard_path(again, 0), meta)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
    third = load_shard(shard_path(other, 0), meta)
    assert not np.array_equal(first["physics"], third["physics"])


def test_pixel_encoder_shards_are_deterministic(tmp_path):
    a = generate.main(smoke_generate_config(tmp_path / "a", encoder="vjepa2-random", episodes=1))
    b = generate.main(smoke_generate_config(tmp_path / "b", encoder="vjepa2-random", episodes=1))
    meta = read_meta(a)
    za, zb = load_shard(shard_path(a, 0), meta)["z"], load_shard(shard_path(b, 0), meta)["z"]
    np.testing.assert_array_equal(za, zb)
    assert meta["latent_dim"] == za.shape[-1] and np.abs(za.astype(np.float32)).sum() > 0
    assert meta["encoder"]["clip"] == "motion"


def test_pixel_latents_are_of_the_previous_and_current_frame(tmp_path):
    """Every stored z_t re-renders from the stored physics as the clip (frame t-1, frame t)."""
    folder = generate.main(smoke_generate_config(tmp_path, encoder="vjepa2-random", episodes=1))
    meta = read_meta(folder)
    shard = load_shard(shard_path(folder, 0), meta)
    env = ControlEnv("reacher-easy")
    encoder = build_encoder("vjepa2-random", env, get_preset("smoke"), torch.device("cpu"))
    frames = []
    for state in shard["physics"][0, :4]:
        env.set_state(state)
        frames.append(encoder.observe(env))
    expected = encoder.encode(encoder.episode_inputs(np.stack(frames)))
    np.testing.assert_allclose(shard["z"][0, :4].astype(np.float32), expected, rtol=2e-3, atol=2e-3)  # float16
    still = encoder.encode(np.stack(frames[1:3]))
    assert np.abs(still - expected[1:3]).max() > 1e-2  # not the frame alone


@pytest.fixture
def shard_copy(tmp_path, state_dataset):
    folder = tmp_path / "copy"
    shutil.copytree(state_dataset, folder)
    meta = read_meta(folder)
    return folder, meta, load_shard(shard_path(folder, 0), meta)


def test_missing_field_is_named(shard_copy):
    folder, meta, arrays = shard_copy
    del arrays["reward"]
    np.savez(shard_path(folder, 0), **arrays)
    with pytest.raises(DataError, match=r"shard-00000\.npz.*missing.*reward"):
        load_dataset(folder)


def test_wrong_dtype_is_named(shard_copy):
    folder, meta, arrays = shard_copy
    arrays["z"] = arrays["z"].astype(np.float64)
    np.savez(shard_path(folder, 0), **arrays)
    with pytest.raises(DataError, match=r"shard-00000\.npz.*'z' has dtype float64"):
        load_dataset(folder)


def test_wrong_shape_is_named(shard_copy):
    folder, meta, arrays = shard_copy
    arrays["action"] = arrays["action"][:, :, :1]
    np.savez(shard_path(folder, 0), **arrays)
    with pytest.raises(DataError, match=r"'action' has shape"):
        load_dataset(folder)


def test_corrupted_file_is_named(shard_copy):
    folder, _, _ = shard_copy
    path = shard_path(folder, 1)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataError, match=r"shard-00001\.npz: cannot be read"):
        load_dataset(folder)


def test_latent_size_disagreeing_with_meta_is_refused(shard_copy):
    folder, meta, arrays = shard_copy
    meta["latent_dim"] += 1
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match=r"'z' has shape"):
        load_dataset(folder)


def test_save_refuses_invalid_arrays_and_writes_nothing(shard_copy, tmp_path):
    _, meta, arrays = shard_copy
    arrays["is_random"] = arrays["is_random"].astype(np.int8)
    target = tmp_path / "new" / "shard-00000.npz"
    with pytest.raises(DataError, match="is_random"):
        save_shard(target, arrays, meta)
    assert not target.exists()


@pytest.mark.parametrize(
    "field,index,value",
    [("z", (1, 7, 2), np.nan), ("z", (1, 7, 0), np.inf), ("reward", (1, 7), -np.inf), ("physics", (1, 7, 3), np.nan)],
)
def test_non_finite_values_are_refused_naming_file_field_and_episode(shard_copy, field, index, value):
    folder, _, arrays = shard_copy
    arrays[field][index] = value
    arrays[field][index[:1] + (9,) + index[2:]] = value  # a later step of the same episode
    np.savez(shard_path(folder, 0), **arrays)
    named = rf"shard-00000\.npz: field '{field}' holds NaN or inf in episode 1 of this shard"
    expected = rf"{named} \(first at step 7; 1 of {len(arrays[field])} episodes affected\)"
    with pytest.raises(DataError, match=expected):
        load_dataset(folder)


def test_save_refuses_a_non_finite_latent_and_writes_nothing(shard_copy, tmp_path):
    _, meta, arrays = shard_copy
    arrays["z"][0, 3] = np.inf  # what a latent beyond float16's range (65504) becomes
    target = tmp_path / "new" / "shard-00000.npz"
    with pytest.raises(DataError, match=r"'z' holds NaN or inf in episode 0 of this shard \(first at step 3;"):
        save_shard(target, arrays, meta)
    assert not target.exists()


def test_folder_refuses_a_different_encoder_or_size(state_dataset, tmp_path):
    root = state_dataset.parents[1]
    before = (state_dataset / "meta.json").read_text()
    with pytest.raises(DataError, match="episode_steps"):
        generate.main(smoke_generate_config(root, episode_steps=7))
    # a different encoder's shards pointed at the same folder are refused too
    shutil.copytree(state_dataset, tmp_path / "reacher-easy" / "vjepa2-random")
    with pytest.raises(DataError, match="encoder"):
        generate.main(smoke_generate_config(tmp_path, encoder="vjepa2-random"))
    assert (state_dataset / "meta.json").read_text() == before


def test_expect_encoder_guards_against_the_wrong_folder(state_dataset):
    with pytest.raises(DataError, match="name: recorded 'state'"):
        load_dataset(state_dataset, expect_encoder={"name": "vjepa2", "dim": 1024})


def test_interrupted_run_resumes_and_matches_a_clean_run(tmp_path, state_dataset, monkeypatch):
    cfg = smoke_generate_config(tmp_path)
    real = generate.generate_shard
    calls = []

    def crash_on_second_shard(cfg, index, *args, **kwargs):
        calls.append(index)
        if index == 1:
            raise KeyboardInterrupt("killed")
        return real(cfg, index, *args, **kwargs)

    monkeypatch.setattr(generate, "generate_shard", crash_on_second_shard)
    with pytest.raises(KeyboardInterrupt):
        generate.main(cfg)
    out = tmp_path / "reacher-easy" / "state"
    assert sorted(p.name for p in out.glob("shard-*")) == ["shard-00000.npz"]
    first_mtime = shard_path(out, 0).stat().st_mtime_ns
    # a half-written temporary file from a killed writer is not mistaken for a shard
    (out / "shard-00001.npz.tmp").write_bytes(b"partial")

    calls.clear()
    monkeypatch.setattr(generate, "generate_shard", real)
    generate.main(cfg)
    assert shard_path(out, 0).stat().st_mtime_ns == first_mtime  # finished shard skipped
    resumed, clean = load_dataset(out), load_dataset(state_dataset)
    np.testing.assert_array_equal(resumed.z, clean.z)
    np.testing.assert_array_equal(resumed.physics, clean.physics)


def test_bad_flags_are_refused():
    with pytest.raises(ConfigError, match="--epsilon"):
        smoke_generate_config("unused", epsilon=1.5).validate()
    with pytest.raises(ConfigError, match="--preset"):
        generate.Config(preset="huge").validate()


def test_rerun_of_a_finished_dataset_leaves_its_meta_alone(state_dataset, tmp_path):
    folder = tmp_path / "reacher-easy" / "state"
    shutil.copytree(state_dataset, folder)
    meta_path = folder / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["code_version"] = "an-older-commit"  # the data was made by an earlier version of the code
    meta_path.write_text(json.dumps(meta))
    before = meta_path.read_bytes()
    generate.main(smoke_generate_config(tmp_path))
    assert meta_path.read_bytes() == before  # later phases key their reuse on it


def test_locomotion_collects_longer_episodes_of_as_many_transitions_and_reacher_keeps_its_sizes():
    reacher, walker = get_preset("cpu", "reacher-easy"), get_preset("cpu", "walker-walk")
    assert reacher == get_preset("cpu") and (reacher.episodes, reacher.episode_steps) == (300, 100)
    assert walker.episode_steps > reacher.episode_steps
    assert walker.episodes * walker.episode_steps == reacher.episodes * reacher.episode_steps
    assert walker.episodes % walker.shard_episodes == 0
    sizes = generate.Config(task="cheetah-run", preset="cpu").sizes()
    assert (sizes.episodes, sizes.episode_steps) == (walker.episodes, walker.episode_steps)
    assert generate.Config(task="walker-walk", preset="cpu", episodes=7).sizes().episodes == 7  # a flag still wins
    assert get_preset("smoke", "walker-walk") == get_preset("smoke")


def test_the_task_and_random_encoders_collect_more_shorter_reacher_episodes_and_others_do_not():
    def shape(task: str, encoder: str, preset: str = "cpu", **flags) -> tuple[int, int]:
        sizes = generate.Config(task=task, encoder=encoder, preset=preset, **flags).sizes()
        return sizes.episodes, sizes.episode_steps

    assert shape("reacher-easy", "vjepa2-task") == shape("reacher-easy", "vjepa2-random") == (2400, 50)
    assert shape("reacher-easy", "state") == shape("reacher-easy", "vjepa2") == (300, 100)
    assert shape("walker-walk", "vjepa2-task") == shape("walker-walk", "state") == (120, 250)
    assert shape("reacher-easy", "vjepa2-task", preset="smoke") == shape("reacher-easy", "state", preset="smoke")
    assert shape("reacher-easy", "vjepa2-task", episodes=600) == (600, 50)  # a flag still wins
