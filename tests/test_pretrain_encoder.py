"""Phase 0 (V-JEPA pretraining, vjepa2-task) on the smoke preset: outputs that load like a hub
id, the processor, reuse, resume, NaN and collapse stops, bad input."""

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoVideoProcessor, VJEPA2Model, VJEPA2VideoProcessor

from train_robots import pretrain_encoder, probe_encoder
from train_robots.common.collapse import CollapseError
from train_robots.common.data import DataError, load_dataset
from train_robots.common.envs import ControlEnv
from train_robots.common.frames import META_NAME, frames_dir, load_or_render_frames
from train_robots.common.runtime import ConfigError
from train_robots.common.task_encoder import (
    TaskEncoderError,
    clips_to_pixels,
    load_task_encoder,
    task_processor,
)
from train_robots.common.training import TrainingError

SIZE = 32  # the smoke preset's pretraining image size


def config(data_dir, ckpt_dir, **overrides) -> pretrain_encoder.Config:
    return pretrain_encoder.Config(
        task="reacher-easy", preset="smoke", data_dir=data_dir, ckpt_dir=ckpt_dir, device="cpu", **overrides
    )


@pytest.fixture(scope="module")
def data_dir(state_dataset):
    return state_dataset.parents[1]


@pytest.fixture(scope="module")
def finished(data_dir, tmp_path_factory):
    ckpt = tmp_path_factory.mktemp("pretrain")
    metrics = pretrain_encoder.main(config(data_dir, ckpt, checkpoint_every=2))
    return ckpt, ckpt / "reacher-easy" / "vjepa2-task", metrics


def encoder_weights(folder):
    return load_file(str(folder / "model.safetensors"))


def test_writes_an_encoder_that_loads_like_a_hub_id(finished):
    _, out, metrics = finished
    for name in ("pretrain.pt", "pretrain.json", "pretrain_curves.png"):
        assert (out / name).stat().st_size > 0, name
    folder = out / "encoder"
    model = VJEPA2Model.from_pretrained(folder).eval()  # the code path a hub id takes
    processor = AutoVideoProcessor.from_pretrained(folder)
    env = ControlEnv("reacher-easy")
    env.reset(123)
    frame = env.render(SIZE)
    pixels = processor([np.stack([frame, frame])], return_tensors="pt")["pixel_values_videos"]
    with torch.inference_mode():
        tokens = model(pixel_values_videos=pixels, skip_predictor=True).last_hidden_state
    assert tokens.shape == (1, (SIZE // 8) ** 2, 32) and torch.isfinite(tokens).all()
    # the saved encoder is the EMA target encoder
    payload = torch.load(out / "pretrain.pt", weights_only=False)
    saved = encoder_weights(folder)
    for key, value in payload["target_encoder"].items():
        assert torch.equal(saved[f"encoder.{key}"], value), key
    assert payload["step"] == 6 and payload["metrics"]["finished"]
    # its record tells it apart from a hub model
    _, _, info = load_task_encoder(folder, task="reacher-easy")
    assert info["encoder"] == "vjepa2-task" and info["encoder_id"] == metrics["encoder_id"]
    assert info["encoder_id"].startswith("vjepa2-task:reacher-easy:32px:")
    with pytest.raises(TaskEncoderError, match="walker-walk"):
        load_task_encoder(folder, task="walker-walk")


def test_metrics_are_flat_with_speed_collapse_and_probe_figures(finished):
    _, out, metrics = finished
    saved = json.loads((out / "pretrain.json").read_text())
    assert saved == metrics and all(not isinstance(v, (dict, list)) for v in saved.values())
    assert saved["steps"] == 6 and saved["samples_per_s"] > 0 and saved["train_seconds"] > 0
    assert saved["target_std"] > 0 and saved["effective_rank"] > 1
    for pooling in ("mean", "grid2", "mean+grid2", "grid4", "mlp-grid2"):
        for quantity in ("cos_position_0", "sin_position_1", "to_target_0", "velocity_1", "target_x", "finger_y"):
            assert np.isfinite(saved[f"probe_{pooling}_{quantity}"])


def test_the_periodic_probe_reads_the_state_and_where_things_are_during_training(data_dir, tmp_path):
    pretrain_encoder.main(config(data_dir, tmp_path, probe_every=3))
    history = torch.load(tmp_path / "reacher-easy" / "vjepa2-task" / "pretrain.pt", weights_only=False)["history"]
    assert [p["step"] for p in history["probe"]] == [0, 3]
    for probe in history["probe"]:
        assert {"mean", "grid2"} <= set(probe["r2"]) <= {"mean", "grid2", "mean@in-view", "grid2@in-view"}
        assert {"to_target_0", "target_x", "finger_y"} <= set(probe["r2"]["grid2"])


def test_the_processor_feeds_training_exactly_and_keeps_the_frame_whole(finished, data_dir):
    _, out, _ = finished
    frames = np.load(frames_dir(data_dir, "reacher-easy", SIZE) / "frames.npz")["frames"]
    clips = np.stack([frames[0, :2], frames[1, 4:6]])
    loaded = AutoVideoProcessor.from_pretrained(out / "encoder")
    encoded = loaded(list(clips), return_tensors="pt")["pixel_values_videos"]
    assert torch.equal(encoded, clips_to_pixels(task_processor(SIZE), clips))  # what training feeds the model
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 1, 3, 1, 1)
    by_hand = (torch.as_tensor(clips).permute(0, 1, 4, 2, 3) / 255.0 - mean) / std
    assert torch.allclose(encoded, by_hand, atol=1e-5)  # whole frame, no resize, no crop
    stock = VJEPA2VideoProcessor(crop_size=SIZE)(list(clips), return_tensors="pt")["pixel_values_videos"]
    assert not torch.allclose(stock, by_hand, atol=1e-2)  # the stock processor upscales and cuts the borders


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_clips_are_processed_on_the_gpu_like_on_the_cpu():
    clips = np.random.default_rng(0).integers(0, 256, (4, 2, SIZE, SIZE, 3), dtype=np.uint8)
    on_gpu = clips_to_pixels(task_processor(SIZE), clips, torch.device("cuda"))
    assert on_gpu.device.type == "cuda"
    assert torch.allclose(on_gpu.cpu(), clips_to_pixels(task_processor(SIZE), clips), atol=1e-5)


def test_a_rerun_reuses_the_finished_run(finished, data_dir, capsys):
    ckpt, out, metrics = finished
    stamp = (out / "pretrain.pt").stat().st_mtime_ns
    assert pretrain_encoder.main(config(data_dir, ckpt, checkpoint_every=2)) == metrics
    assert "reusing" in capsys.readouterr().out and (out / "pretrain.pt").stat().st_mtime_ns == stamp


def test_an_interrupted_run_resumes_to_the_same_weights(finished, data_dir, tmp_path, monkeypatch):
    _, reference, _ = finished
    original = pretrain_encoder.save_state

    def save_then_stop(path, jepa, optimizer, state, *args, **kwargs):
        original(path, jepa, optimizer, state, *args, **kwargs)
        if state.step == 4:
            raise KeyboardInterrupt

    monkeypatch.setattr(pretrain_encoder, "save_state", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        pretrain_encoder.main(config(data_dir, tmp_path, checkpoint_every=2))
    out = tmp_path / "reacher-easy" / "vjepa2-task"
    assert torch.load(out / "pretrain.pt", weights_only=False)["step"] == 4 and not (out / "encoder").exists()
    monkeypatch.setattr(pretrain_encoder, "save_state", original)

    with pytest.raises(
        ConfigError, match=r"(?s)other settings.*pretrain_lr: checkpoint has 0.001, this run has 0.002.*--force"
    ):
        pretrain_encoder.main(config(data_dir, tmp_path, checkpoint_every=2, lr=2e-3))
    metrics = pretrain_encoder.main(config(data_dir, tmp_path, checkpoint_every=2))
    assert metrics["steps"] == 6
    resumed, uninterrupted = encoder_weights(out / "encoder"), encoder_weights(reference / "encoder")
    assert resumed.keys() == uninterrupted.keys()
    assert all(torch.equal(resumed[k], uninterrupted[k]) for k in resumed)


def test_force_starts_over_with_other_settings(finished, data_dir, tmp_path):
    ckpt, reference, _ = finished
    shutil.copytree(ckpt, tmp_path, dirs_exist_ok=True)
    metrics = pretrain_encoder.main(config(data_dir, tmp_path, checkpoint_every=2, lr=2e-3, force=True))
    assert metrics["steps"] == 6
    other = encoder_weights(tmp_path / "reacher-easy" / "vjepa2-task" / "encoder")
    assert not torch.equal(
        other["encoder.layer.0.mlp.fc1.weight"],
        encoder_weights(reference / "encoder")["encoder.layer.0.mlp.fc1.weight"],
    )


def poisoned(poison):
    build = pretrain_encoder.build_model

    def build_and_poison(sizes, seed):
        model = build(sizes, seed)
        with torch.no_grad():
            poison(model)
        return model

    return build_and_poison


def test_a_nan_stops_the_run_with_a_clear_error(data_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(pretrain_encoder, "build_model", poisoned(lambda m: m.predictor.proj.bias.fill_(float("nan"))))
    with pytest.raises(TrainingError, match="loss became nan at step 0"):
        pretrain_encoder.main(config(data_dir, tmp_path))


def test_a_collapsed_encoder_stops_the_run_with_a_clear_error(data_dir, tmp_path, monkeypatch):
    # every token's features equal the final norm's bias: the target no longer tells clips apart
    monkeypatch.setattr(pretrain_encoder, "build_model", poisoned(lambda m: m.encoder.layernorm.weight.zero_()))
    with pytest.raises(CollapseError, match="collapsed at step 0.*--lr"):
        pretrain_encoder.main(config(data_dir, tmp_path))


def test_a_missing_dataset_names_the_command_that_makes_it(tmp_path):
    with pytest.raises(DataError, match="generate_and_encode_modal.py --task reacher-easy --encoder state"):
        pretrain_encoder.main(config(tmp_path / "nothing", tmp_path))


def test_a_dataset_of_another_task_is_refused(state_dataset, tmp_path):
    other = tmp_path / "walker"
    shutil.copytree(state_dataset, other)
    meta = json.loads((other / "meta.json").read_text())
    (other / "meta.json").write_text(json.dumps({**meta, "task": "walker-walk"}))
    with pytest.raises(DataError, match="holds 'walker-walk' episodes, but --task is 'reacher-easy'"):
        pretrain_encoder.main(config(tmp_path, tmp_path, source_dir=other))


def test_frames_of_another_image_size_are_refused(finished, data_dir, tmp_path):
    cached = frames_dir(data_dir, "reacher-easy", SIZE)
    with pytest.raises(DataError, match="image_size: cache has 32, this run needs 16"):
        pretrain_encoder.main(config(data_dir, tmp_path, image_size=16, patch_size=4, frames_dir=cached))


def test_frames_and_encoders_of_another_experts_episodes_are_refused(finished, data_dir, state_dataset, tmp_path):
    # The same seeds, sizes and exploration, another expert: other episodes, so other video.
    other = tmp_path / "other-expert"
    shutil.copytree(state_dataset, other)
    meta = json.loads((other / "meta.json").read_text())
    settling = "ReacherExpert(position_gain=15, velocity_gain=0.2, damping=0.05)"
    (other / "meta.json").write_text(json.dumps({**meta, "expert_id": settling}))
    cached = frames_dir(data_dir, "reacher-easy", SIZE)
    with pytest.raises(DataError, match=r"source: cache has .*, this run needs .*'expert': 'ReacherExpert\(pos"):
        pretrain_encoder.main(config(data_dir, tmp_path, source_dir=other, frames_dir=cached))
    ckpt, _, _ = finished
    with pytest.raises(ConfigError, match="--force"):  # the finished encoder is not reused for it
        pretrain_encoder.main(config(data_dir, ckpt, source_dir=other, frames_dir=tmp_path / "frames"))


def test_frames_cache_shows_the_stored_states(finished, data_dir, state_dataset, tmp_path):
    env = ControlEnv("reacher-easy")
    source = load_dataset(state_dataset)
    cached = load_or_render_frames(env, source, state_dataset, frames_dir(data_dir, "reacher-easy", SIZE), SIZE)
    env.set_state(source.physics[2, 7])
    assert np.array_equal(cached.frames[2, 7], env.render(SIZE))
    assert np.allclose(cached.state, source.z, atol=2e-3)  # the state encoder's z is the observation (float16)
    # a cache without meta.json is unfinished: it is rendered again, not trusted
    partial = tmp_path / "frames"
    (partial).mkdir()
    (partial / "frames.npz").write_bytes(b"half a file")
    again = load_or_render_frames(env, source, state_dataset, partial, SIZE)
    assert np.array_equal(again.frames, cached.frames) and (partial / META_NAME).exists()


def test_the_cpu_preset_adds_the_vicreg_term_and_smoke_and_full_train_as_published(tmp_path):
    def spread(preset: str, **flags) -> tuple[float, float, float]:
        return pretrain_encoder.Config(preset=preset, data_dir=tmp_path, ckpt_dir=tmp_path, **flags).spread()

    assert spread("cpu") == (1.0, 1.0, 0.1)
    assert spread("smoke") == spread("full") == (0.0, 0.0, 0.1)
    assert spread("cpu", var_weight=0.0, cov_weight=0.5) == (0.0, 0.5, 0.1)  # flags still win


def test_bad_flags_are_clear_errors(data_dir, tmp_path):
    for overrides, match in [
        ({"image_size": 30}, "multiple of --patch-size"),
        ({"mask_blocks": (8,), "mask_scales": (0.15, 0.7)}, "one entry per mask kind"),
        ({"pooling": "grid3"}, "cannot be split"),
        ({"ema_start": 0.9, "ema_end": 0.5}, "ema-start"),
    ]:
        with pytest.raises(ConfigError, match=match):
            pretrain_encoder.main(config(data_dir, tmp_path, **overrides))


def test_probe_script_compares_the_task_encoder_with_vjepa2_random(finished, data_dir):
    ckpt, _, metrics = finished
    common = dict(task="reacher-easy", preset="smoke", data_dir=data_dir, ckpt_dir=ckpt, device="cpu")
    task_cfg = probe_encoder.Config(encoder="vjepa2-task", **common)
    task = probe_encoder.main(task_cfg)
    # the same encoder, frames and held-out episodes as pretraining's own final probe
    assert task["probe_grid2_to_target_0"] == pytest.approx(metrics["probe_grid2_to_target_0"], abs=1e-6)
    random = probe_encoder.main(probe_encoder.Config(encoder="vjepa2-random", poolings=("mean",), **common))
    assert random["encoder_id"].startswith("random-") and np.isfinite(random["probe_mlp-mean_cos_position_0"])
    assert (ckpt / "reacher-easy" / "vjepa2-random" / "probe.json").exists()
    # pretraining's config names the folder probe_encoder.py wrote, whatever the size it pretrains at
    pretrain_cfg = pretrain_encoder.Config(**common, image_size=32)
    assert pretrain_cfg.probe_folder() == ckpt / "reacher-easy" / "vjepa2-task" == task_cfg.probe_folder()
    with pytest.raises(ConfigError, match="keeps the size and pooling it was pretrained with"):
        probe_encoder.main(probe_encoder.Config(encoder="vjepa2-task", image_size=64, **common))
    state = probe_encoder.main(probe_encoder.Config(encoder="state", **common))  # the sanity check
    assert state["probe_state_to_target_0"] > 0.999 and state["probe_state_cos_position_1"] > 0.999
    # the ball's place is in the state only through to_target + the arm's (nonlinear) kinematics
    assert state["probe_state_target_x"] < 0.999 and np.isfinite(state["probe_state_finger_y"])
    # an MLP reads more of it than the ridge; and the task encoder's grid2 is read both ways
    assert state["probe_mlp-state_finger_x"] > state["probe_state_finger_x"]
    assert np.isfinite(task["probe_mlp-grid2_to_target_0"]) and "probe_mlp-mean_cos_position_0" not in task


def test_the_task_encoder_is_an_encoder_like_any_other(finished, tmp_path):
    import json
    import shutil

    from train_robots.common.encoders import EncoderUnavailable, build_encoder, encoder_info
    from train_robots.common.envs import ControlEnv
    from train_robots.common.presets import get_preset
    from train_robots.common.run_config import RunConfig
    from train_robots.common.task_encoder import TaskEncoderError

    ckpt, out, _ = finished
    env, smoke = ControlEnv("reacher-easy"), get_preset("smoke")
    source = RunConfig(encoder="vjepa2-task", ckpt_dir=ckpt).encoder_source()
    assert source == str(out / "encoder")
    encoder = build_encoder("vjepa2-task", env, smoke, torch.device("cpu"), source)
    info = encoder.info
    assert info == encoder_info("vjepa2-task", env, smoke, source)  # read without loading weights
    assert (info.name, info.clip, info.pooling) == ("vjepa2-task", "motion", "grid2") and info.dim == 4 * 32
    env.reset(0)
    frame = encoder.observe(env)
    assert frame.shape == (32, 32, 3)  # its own image size, not the preset's
    assert encoder.encode(encoder.motion_inputs(frame[None], frame[None])).shape == (1, info.dim)
    with pytest.raises(TaskEncoderError, match="pretrained on 'reacher-easy'"):
        build_encoder("vjepa2-task", ControlEnv("walker-walk"), smoke, torch.device("cpu"), source)
    collapsed = tmp_path / "collapsed"
    shutil.copytree(out / "encoder", collapsed)
    meta = json.loads((collapsed / "pretrain_info.json").read_text())
    (collapsed / "pretrain_info.json").write_text(json.dumps({**meta, "effective_rank": 1.0}))
    with pytest.raises(TaskEncoderError, match="collapsed in pretraining.*--force"):
        build_encoder("vjepa2-task", env, smoke, torch.device("cpu"), str(collapsed))
    (collapsed / "video_preprocessor_config.json").unlink()
    with pytest.raises(EncoderUnavailable, match="no video_preprocessor_config.json"):
        build_encoder("vjepa2", env, smoke, torch.device("cpu"), str(collapsed))
