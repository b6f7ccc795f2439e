"""Probe an encoder: how much of the true state its latents carry (phase 1's question, "do the
embeddings carry enough spatial information for control?").

Encodes every (previous frame, current frame) clip of a dataset's episodes, pools the tokens
each way asked for, fits a ridge read-out of the state on some episodes and reports R² per
state quantity on held-out ones (common/probe.py). The held-out episodes are the ones
`pretrain_encoder.py` holds out of pretraining (same split for the same --seed and
--test-fraction), so the figures of every encoder compare on the same frames.

    python train_robots/probe_encoder.py --encoder vjepa2-random --preset cpu --image-size 64
    python train_robots/probe_encoder.py --encoder vjepa2-task      # checkpoints/<task>/vjepa2-task/encoder
    python train_robots/probe_encoder.py --encoder vjepa2 --encoder-id /local/dir --image-size 128

Writes <ckpt-dir>/<task>/<encoder>/probe[-<label>].json (flat: probe_<pooling>_<quantity>).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from any directory

import modal  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from train_robots.common import cli, cloud  # noqa: E402
from train_robots.common.checkpoint import checkpoint_dir  # noqa: E402
from train_robots.common.encoders import DEFAULT_VJEPA2_ID, build_encoder  # noqa: E402
from train_robots.common.envs import ControlEnv  # noqa: E402
from train_robots.common.frames import frames_dir, load_or_render_frames, load_source_dataset  # noqa: E402
from train_robots.common.latent_probe import flat_r2, probe_poolings  # noqa: E402
from train_robots.common.pooling import check_pooling  # noqa: E402
from train_robots.common.presets import get_preset  # noqa: E402
from train_robots.common.runtime import CKPT_DIR, DATA_DIR, ConfigError, resolve_device, write_json  # noqa: E402
from train_robots.common.task_encoder import TASK_ENCODER_NAME, load_task_encoder  # noqa: E402
from train_robots.common.training import split_episodes  # noqa: E402

ENCODERS = ("vjepa2-random", TASK_ENCODER_NAME, "vjepa2")


@dataclass
class Config:
    task: str = "reacher-easy"
    """Control Suite task."""
    encoder: str = TASK_ENCODER_NAME
    """vjepa2-task (pretrained here), vjepa2-random (preset-sized, random weights) or vjepa2."""
    encoder_dir: Path | None = None
    """vjepa2-task directory (default: <ckpt-dir>/<task>/vjepa2-task/encoder)."""
    encoder_id: str = DEFAULT_VJEPA2_ID
    """Hub id or local directory for --encoder vjepa2."""
    preset: str = "cpu"
    """Preset that sizes vjepa2-random (and names the dataset command in errors)."""
    image_size: int | None = None
    """Frame size (default: vjepa2-task's own; the preset's for the others)."""
    patch_size: int | None = None
    """vjepa2-random only: patch size override (default: the preset's)."""
    poolings: tuple[str, ...] = ("mean", "grid2", "mean+grid2", "grid4")
    """Poolings to compare."""
    episodes: int = 0
    """Probe the first N episodes of the split's training and held-out parts in proportion (0: all)."""
    test_fraction: float = 0.2
    """Share of episodes held out (as in pretrain_encoder.py)."""
    label: str = ""
    """Suffix of the output file name (probe-<label>.json), to keep several probes apart."""
    encode_batch: int = 128
    """Clips per forward pass."""
    threads: int = 0
    """torch CPU threads (0: torch's default)."""
    seed: int = 0
    """Seeds the episode split (the same as pretraining's for the same seed)."""
    device: str = "auto"
    """auto, cpu or cuda."""
    source_dir: Path | None = None
    """Dataset whose episodes are rendered (default: <data-dir>/<task>/state)."""
    data_dir: Path = DATA_DIR
    """Root of the datasets and frames caches."""
    ckpt_dir: Path = CKPT_DIR
    """Root of the checkpoints; writes <ckpt-dir>/<task>/<encoder>/probe*.json."""
    gpu: str = cloud.DEFAULT_GPU
    """Modal GPU type for `modal run` (ignored locally)."""


def load_model(cfg: Config, env: ControlEnv, device: torch.device):
    """(VJEPA2Model, processor, image size, description) of the encoder to probe."""
    if cfg.encoder == TASK_ENCODER_NAME:
        folder = cfg.encoder_dir or checkpoint_dir(cfg.ckpt_dir, cfg.task, TASK_ENCODER_NAME) / "encoder"
        model, processor, info = load_task_encoder(folder, task=cfg.task)
        if cfg.image_size not in (None, info["image_size"]):
            raise ConfigError(f"{folder} was trained at {info['image_size']}px; drop --image-size or match it")
        return model, processor, info["image_size"], info["encoder_id"]
    if cfg.encoder not in ENCODERS:
        raise ConfigError(f"--encoder {cfg.encoder!r} is unknown; choose one of {list(ENCODERS)}")
    preset = get_preset(cfg.preset)
    size = cfg.image_size or preset.image_size
    preset = replace(preset, image_size=size)
    if cfg.patch_size:
        if cfg.encoder != "vjepa2-random":
            raise ConfigError("--patch-size only resizes vjepa2-random")
        preset = replace(preset, random_encoder={**preset.random_encoder, "patch_size": cfg.patch_size})
    encoder = build_encoder(cfg.encoder, env, preset, device, cfg.encoder_id)
    return encoder.model, encoder.processor, size, encoder.info.id


def probe_subset(split: tuple[np.ndarray, np.ndarray], count: int) -> tuple[np.ndarray, np.ndarray]:
    """(episodes to encode, held-out ones among them): all, or the first `count` in proportion."""
    train, test = split
    if not count:
        return np.sort(np.concatenate([train, test])), test
    n_test = max(1, round(count * len(test) / (len(train) + len(test))))
    chosen_test = test[:n_test]
    return np.sort(np.concatenate([train[: max(1, count - n_test)], chosen_test])), chosen_test


def main(cfg: Config) -> dict:
    """Probe the encoder; returns (and writes) the flat metrics."""
    device = resolve_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    env = ControlEnv(cfg.task)
    model, processor, size, encoder_id = load_model(cfg, env, device)
    model = model.to(device).eval()
    side = model.config.crop_size // model.config.patch_size
    try:
        for name in cfg.poolings:
            check_pooling(name, side)
    except ValueError as err:
        raise ConfigError(str(err)) from err
    source, source_dir = load_source_dataset(cfg.task, cfg.preset, cfg.data_dir, cfg.source_dir)
    data = load_or_render_frames(env, source, source_dir, frames_dir(cfg.data_dir, cfg.task, size), size)
    episodes, test = probe_subset(split_episodes(len(data.frames), cfg.test_fraction, cfg.seed), cfg.episodes)
    print(f"probing {encoder_id} on {len(episodes)} episodes ({len(test)} held out) at {size}px: {list(cfg.poolings)}")
    started = time.perf_counter()
    results = probe_poolings(
        model,
        processor,
        data,
        episodes,
        test,
        list(cfg.poolings),
        env.observation_names(),
        cfg.encode_batch,
        device,
        seed=cfg.seed,
    )
    metrics = {
        "task": cfg.task,
        "encoder": cfg.encoder,
        "encoder_id": encoder_id,
        "image_size": size,
        "tokens_per_frame": side * side,
        "width": int(model.config.hidden_size),
        "episodes": len(episodes),
        "test_episodes": len(test),
        "seconds": time.perf_counter() - started,
        "seed": cfg.seed,
        **flat_r2(results),
    }
    out = checkpoint_dir(cfg.ckpt_dir, cfg.task, cfg.encoder) / (
        f"probe-{cfg.label}.json" if cfg.label else "probe.json"
    )
    write_json(out, metrics)
    for pooling, result in results.items():
        print(f"{pooling:>11}: " + ", ".join(f"{k} {v:.3f}" for k, v in result.r2.items()))
    print(f"-> {out}")
    return metrics


# ---------------------------------------------------------------- Modal (cloud GPUs)

app = modal.App("train-robots-probe-encoder", image=cloud.image)


@app.function(gpu=cloud.DEFAULT_GPU, volumes=cloud.VOLUMES, timeout=2 * 3600)
def probe_remote(cfg_fields: dict) -> dict:
    """Probe on a GPU container; reads and writes the data volume."""
    cfg = replace(
        Config(**cfg_fields),
        data_dir=Path(cloud.REMOTE_DATA_DIR),
        ckpt_dir=Path(cloud.REMOTE_CKPT_DIR),
        device="cuda",
    )
    metrics = main(cfg)
    cloud.data_volume.commit()
    return metrics


@app.local_entrypoint()
def modal_main(*arglist: str) -> None:
    cfg = cli.parse(Config, arglist)
    if cfg.source_dir or cfg.encoder_dir:
        raise ConfigError("--source-dir and --encoder-dir are local paths; on Modal the volume's defaults are used")
    fields = {k: v for k, v in asdict(cfg).items() if k not in ("data_dir", "ckpt_dir")}
    print(json.dumps(probe_remote.with_options(gpu=cfg.gpu).remote(fields), indent=2))


if __name__ == "__main__":
    cli.run(main, Config)
