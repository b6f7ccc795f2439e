"""Encoders: the pretrained path through from_pretrained, the random one, the state one."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from transformers import VJEPA2Config, VJEPA2Model, VJEPA2VideoProcessor

from train_robots.common.encoders import EncoderUnavailable, StateEncoder, build_encoder, encoder_info
from train_robots.common.envs import ControlEnv
from train_robots.common.presets import get_preset
from train_robots.common.runtime import REPO_ROOT

SMOKE = get_preset("smoke")


@pytest.fixture(scope="module")
def env():
    return ControlEnv("reacher-easy")


@pytest.fixture(scope="module")
def local_vjepa2(tmp_path_factory):
    """A small V-JEPA 2 saved with save_pretrained: loads exactly as a hub id would."""
    folder = tmp_path_factory.mktemp("vjepa2-small")
    config = VJEPA2Config(
        crop_size=32,
        hidden_size=48,
        num_hidden_layers=2,
        num_attention_heads=2,
        pred_hidden_size=24,
        pred_num_hidden_layers=1,
        pred_num_attention_heads=2,
    )
    torch.manual_seed(1)
    VJEPA2Model(config).save_pretrained(folder)
    VJEPA2VideoProcessor(crop_size=32).save_pretrained(folder)
    return folder


def test_pretrained_loads_from_a_local_directory(env, local_vjepa2):
    encoder = build_encoder("vjepa2", env, SMOKE, torch.device("cpu"), str(local_vjepa2))
    assert encoder.info.name == "vjepa2" and encoder.info.dim == 48 and encoder.info.id == str(local_vjepa2)
    assert encoder_info("vjepa2", env, SMOKE, str(local_vjepa2)) == encoder.info
    env.reset(0)
    frames = np.stack([encoder.observe(env) for _ in range(3)])
    assert frames.shape == (3, SMOKE.image_size, SMOKE.image_size, 3)
    z = encoder.encode(frames)
    assert z.shape == (3, 48) and z.dtype == np.float32 and np.isfinite(z).all()
    # the saved weights were loaded, not freshly initialised ones
    reference = VJEPA2Model.from_pretrained(local_vjepa2).eval()
    pixels = encoder.processor([np.repeat(frames[:1], 2, axis=0)], return_tensors="pt")["pixel_values_videos"]
    with torch.inference_mode():
        expected = reference(pixel_values_videos=pixels, skip_predictor=True).last_hidden_state.mean(1)
    np.testing.assert_allclose(z[:1], expected.numpy(), rtol=1e-4, atol=1e-5)


def test_latents_depend_on_the_image(env):
    encoder = build_encoder("vjepa2-random", env, SMOKE, torch.device("cpu"))
    env.reset(0)
    a = encoder.observe(env)
    env.reset(1)
    b = encoder.observe(env)
    za, zb = encoder.encode(np.stack([a, b]))
    assert not np.allclose(za, zb)
    # and the same image in a different batch gives the same latent
    np.testing.assert_allclose(encoder.encode(a[None])[0], za, rtol=1e-5, atol=1e-6)


def test_random_encoder_is_the_same_every_time(env):
    a = build_encoder("vjepa2-random", env, SMOKE, torch.device("cpu"))
    torch.manual_seed(123)  # the run's seed must not change the encoder
    b = build_encoder("vjepa2-random", env, SMOKE, torch.device("cpu"))
    for pa, pb in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(pa, pb)


def test_state_encoder_passes_the_observation_through(env):
    encoder = build_encoder("state", env, SMOKE, torch.device("cpu"))
    env.reset(0)
    obs = encoder.observe(env)
    np.testing.assert_array_equal(encoder.encode(obs[None])[0], env.observation())
    assert encoder.info.dim == env.obs_dim and not encoder.uses_pixels


def test_unreachable_weights_say_what_to_do(env, tmp_path):
    with pytest.raises(EncoderUnavailable) as err:
        build_encoder("vjepa2", env, SMOKE, torch.device("cpu"), "facebook/vjepa2-vitl-fpc64-256")
    assert "--encoder-id /local/dir" in str(err.value) and "--encoder state" in str(err.value)
    with pytest.raises(EncoderUnavailable, match="--encoder-id"):
        build_encoder("vjepa2", env, SMOKE, torch.device("cpu"), str(tmp_path / "no-such-dir"))


def test_script_exits_nonzero_with_the_message(tmp_path):
    cmd = [
        sys.executable,
        str(REPO_ROOT / "train_robots" / "generate_and_encode_modal.py"),
        "--encoder", "vjepa2", "--preset", "smoke", "--data-dir", str(tmp_path),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 2
    assert "--encoder-id /local/dir" in done.stderr and "Traceback" not in done.stderr
    assert not any(tmp_path.rglob("shard-*.npz"))


def test_state_goals_compare_the_pose_and_not_the_velocities(env):
    mask = StateEncoder(env).goal_dims
    assert mask.shape == (env.obs_dim,) and mask.sum() == env.obs_dim - env.physics.model.nv
    assert not mask[-env.physics.model.nv :].any()  # reacher's observation ends with the joint velocities


def test_a_clip_of_two_frames_shows_motion_and_a_still_clip_is_the_frame_repeated(env):
    encoder = build_encoder("vjepa2-random", env, SMOKE, torch.device("cpu"))
    assert (encoder.info.clip, encoder.info.pooling) == ("motion", "mean")
    env.reset(0)
    before = encoder.observe(env)
    for _ in range(5):
        env.step(np.ones(env.action_dim, np.float32))
    after = encoder.observe(env)
    moving, still = encoder.encode(encoder.motion_inputs(np.stack([before, after]), np.stack([after, after])))
    assert not np.allclose(moving, still, atol=1e-5)  # the same current frame, another previous one
    np.testing.assert_allclose(still, encoder.encode(after[None])[0], rtol=1e-5, atol=1e-6)
    # an episode's first frame is paired with itself, then each frame with the one before
    clips = encoder.episode_inputs(np.stack([before, after, after]))
    assert clips.shape == (3, 2, *before.shape)
    np.testing.assert_array_equal(clips[0], [before, before])
    np.testing.assert_array_equal(clips[1], [before, after])
    with pytest.raises(ValueError, match="clips"):
        encoder.encode(np.zeros((1, 3, 32, 32, 3), np.uint8))  # 3 frames are not one tubelet


def test_the_state_needs_no_history(env):
    encoder = build_encoder("state", env, SMOKE, torch.device("cpu"))
    obs = np.random.default_rng(0).standard_normal((4, env.obs_dim)).astype(np.float32)
    np.testing.assert_array_equal(encoder.episode_inputs(obs), obs)


def test_the_pooling_flag_widens_the_hub_and_random_latents_into_a_grid(env, local_vjepa2):
    hub = build_encoder("vjepa2", env, SMOKE, torch.device("cpu"), str(local_vjepa2), pooling="grid2")
    assert (hub.info.pooling, hub.info.dim) == ("grid2", 4 * 48)
    assert encoder_info("vjepa2", env, SMOKE, str(local_vjepa2), pooling="grid2") == hub.info
    mean = build_encoder("vjepa2", env, SMOKE, torch.device("cpu"), str(local_vjepa2))
    env.reset(0)
    frame = hub.observe(env)[None]
    cells = hub.encode(frame).reshape(4, 48)
    # the 2x2 token grid's cells, each one token: their mean is the mean pooling's latent
    np.testing.assert_allclose(cells.mean(0), mean.encode(frame)[0], rtol=1e-4, atol=1e-5)
    assert np.abs(cells - cells.mean(0)).max() > 1e-3  # the cells differ: where things are is kept
    random = build_encoder("vjepa2-random", env, SMOKE, torch.device("cpu"), pooling="mean+grid2")
    assert random.info.dim == 5 * 64 and random.encode(frame).shape == (1, 5 * 64)


def test_poolings_an_encoder_cannot_take_are_refused_naming_the_flag(env):
    from train_robots.common.runtime import ConfigError

    with pytest.raises(ConfigError, match="--pooling.*cannot be split into 3x3"):
        encoder_info("vjepa2-random", env, SMOKE, pooling="grid3")  # 32 px at patch 16: a 2x2 grid
    with pytest.raises(ConfigError, match="--pooling applies to vjepa2 and vjepa2-random only, not --encoder state"):
        build_encoder("state", env, SMOKE, torch.device("cpu"), pooling="grid2")
