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
    python train_robots/probe_encoder.py --encoder state                # the sanity check: R² 1
    python train_robots/probe_encoder.py --frames poses   # fresh starts: every pose evenly, not the data's

`--frames poses` asks what the latent can carry, apart from what one dataset shows: reacher's
expert data shows the arm mostly inside the target, where the fingertip hides in the ball.

Writes <ckpt-dir>/<task>/<encoder>/probe[-<label>].json (flat: probe_<pooling>_<quantity>; with
--frames poses, probe-poses.json).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from any directory

import numpy as np  # noqa: E402
import torch  # noqa: E402

from train_robots.common import cli, cloud  # noqa: E402
from train_robots.common.envs import ControlEnv  # noqa: E402
from train_robots.common.frames import (  # noqa: E402
    frames_dir,
    load_or_render_frames,
    load_source_dataset,
    render_episodes,
)
from train_robots.common.latent_probe import (  # noqa: E402
    POSE_PROBE_FILE,
    ProbeTargets,
    flat_r2,
    in_view_share,
    probe_poolings,
    probe_targets,
    read_out,
    reset_poses,
)
from train_robots.common.pooling import check_pooling, pooled_dim  # noqa: E402
from train_robots.common.presets import get_preset  # noqa: E402
from train_robots.common.run_config import RunConfig  # noqa: E402
from train_robots.common.runtime import ConfigError, resolve_device, write_json  # noqa: E402
from train_robots.common.task_encoder import TASK_ENCODER_NAME  # noqa: E402
from train_robots.common.training import split_episodes  # noqa: E402

ENCODERS = ("vjepa2-random", TASK_ENCODER_NAME, "vjepa2", "state")
FRAME_SOURCES = ("dataset", "poses")


@dataclass
class ProbeSet:
    """The states a probe reads out, as episodes (a reset pose is an episode of two states)."""

    observations: np.ndarray
    """float32 [E, T+1, obs]: the state encoder's latent, and what the probe's targets start from."""
    targets: ProbeTargets
    episodes: np.ndarray
    """The episodes to encode."""
    test: np.ndarray
    """The held-out ones among them."""
    frames: np.ndarray | None = None
    """uint8 [E, T+1, H, W, 3] (None for the state encoder, which needs no frames)."""


@dataclass
class Config(RunConfig):
    encoder: str = TASK_ENCODER_NAME
    """vjepa2-task (pretrained here; --encoder-id names another directory than its default),
    vjepa2-random (preset-sized, random weights), vjepa2 (--encoder-id) or state (the sanity check: R² 1)."""
    patch_size: int | None = None
    """vjepa2-random only: patch size override (default: the preset's)."""
    poolings: tuple[str, ...] = ("mean", "grid2", "mean+grid2", "grid4")
    """Poolings to compare (vjepa2-task and vjepa2-random; the state has none)."""
    mlp_poolings: tuple[str, ...] | None = None
    """Poolings (among --poolings) also read out by an MLP, what a controller can use (default: grid2 if
    compared, else the first; the state: always)."""
    episodes: int = 0
    """Probe the first N episodes of the split's training and held-out parts in proportion (0: all)."""
    test_fraction: float = 0.2
    """Share of episodes held out (as in pretrain_encoder.py, whose split the same --seed repeats)."""
    label: str = ""
    """Suffix of the output file name (probe-<label>.json), to keep several probes apart."""
    encode_batch: int = 128
    """Clips per forward pass."""
    threads: int = 0
    """torch CPU threads (0: torch's default)."""
    source_dir: Path | None = None
    """Dataset whose episodes are rendered (default: <data-dir>/<task>/state)."""
    frames: str = "dataset"
    """What the probe reads: dataset (the --source-dir's episodes re-rendered: the frames the controllers
    see, mostly the arm in the target) or poses (--poses fresh starts of the task, each one random action
    on: every pose the reset draws, evenly; writes probe-poses.json unless --label says otherwise)."""
    poses: int = 20000
    """Fresh starts that --frames poses renders (--test-fraction of them held out)."""

    def validate(self) -> None:
        super().validate()
        if self.frames not in FRAME_SOURCES:
            raise ConfigError(f"--frames {self.frames!r} is unknown; choose one of {list(FRAME_SOURCES)}")
        if self.frames == "poses" and self.episodes:
            raise ConfigError("--episodes picks dataset episodes; with --frames poses, set --poses instead")
        if self.poses < 10:
            raise ConfigError(f"--poses {self.poses} is too few to hold some out (at least 10)")
        if self.pooling is not None:
            raise ConfigError("the probe reads every pooling of --poolings; drop --pooling")

    def on_volume(self) -> Config:
        # --source-dir names a local path; on the volume its default is used.
        return replace(super().on_volume(), source_dir=None)


def load_model(cfg: Config, env: ControlEnv, device: torch.device):
    """(VJEPA2Model, processor, image size, encoder id) of the encoder to probe."""
    if cfg.encoder not in ENCODERS:
        raise ConfigError(f"--encoder {cfg.encoder!r} is unknown; choose one of {list(ENCODERS)}")
    preset = get_preset(cfg.preset, cfg.task)
    if cfg.patch_size:
        if cfg.encoder != "vjepa2-random":
            raise ConfigError("--patch-size only resizes vjepa2-random")
        preset = replace(preset, random_encoder={**preset.random_encoder, "patch_size": cfg.patch_size})
    encoder = cfg.build_encoder(env, preset, device)
    return encoder.model, encoder.processor, encoder.info.image_size, encoder.info.id


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
    cfg.validate()
    device = resolve_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    env = ControlEnv(cfg.task)
    if cfg.encoder == "state":
        return probe_state(cfg, env)
    model, processor, size, encoder_id = load_model(cfg, env, device)
    model = model.to(device).eval()
    side = model.config.crop_size // model.config.patch_size
    try:
        for name in cfg.poolings:
            check_pooling(name, side)
    except ValueError as err:
        raise ConfigError(str(err)) from err
    warn_wide_poolings(cfg.poolings, int(model.config.hidden_size))
    mlp_poolings = cfg.mlp_poolings
    if mlp_poolings is None:
        mlp_poolings = ("grid2",) if "grid2" in cfg.poolings else cfg.poolings[:1]
    if not set(mlp_poolings) <= set(cfg.poolings):
        raise ConfigError(f"--mlp-poolings {list(mlp_poolings)} must be among --poolings {list(cfg.poolings)}")
    probed = probe_set(cfg, env, size)
    episodes, test = probed.episodes, probed.test
    what = "fresh starts" if cfg.frames == "poses" else "episodes"
    print(f"probing {encoder_id} on {len(episodes)} {what} ({len(test)} held out) at {size}px: {list(cfg.poolings)}")
    started = time.perf_counter()
    results = probe_poolings(
        model,
        processor,
        probed.frames,
        probed.targets,
        episodes,
        test,
        list(cfg.poolings),
        cfg.encode_batch,
        device,
        cfg.seed,
        mlp_poolings=mlp_poolings,
    )
    metrics = {
        "task": cfg.task,
        "encoder": cfg.encoder,
        "encoder_id": encoder_id,
        "image_size": size,
        "tokens_per_frame": side * side,
        "width": int(model.config.hidden_size),
        "frames": cfg.frames,
        "episodes": len(episodes),
        "test_episodes": len(test),
        "seconds": time.perf_counter() - started,
        "seed": cfg.seed,
        **in_view_share(probed.targets, test),
        **flat_r2(results),
    }
    return report(cfg, metrics, results)


WIDE_RIDGE = 8192
"""Pooled latents wider than this make the ridge's D x D eigendecomposition take long on a CPU thread."""


def warn_wide_poolings(poolings: tuple[str, ...], width: int) -> None:
    """Name the poolings whose ridge will be slow (grid4 of a 1024-wide encoder: 16,384 floats)."""
    dims = {name: pooled_dim(name, width) for name in poolings}
    wide = {name: dim for name, dim in dims.items() if dim > WIDE_RIDGE}
    if wide:
        print(
            f"note: {', '.join(f'{n} ({d} floats)' for n, d in wide.items())} of this {width}-wide encoder make a "
            "slow ridge (tens of minutes on one thread); --poolings without them skips it"
        )


def probe_set(cfg: Config, env: ControlEnv, image_size: int | None) -> ProbeSet:
    """The episodes to probe, split, with their targets and (at `image_size`; None: no frames) their frames."""
    if cfg.frames == "poses":
        poses = reset_poses(env, cfg.poses, cfg.seed)
        observations, physics = poses.observations, poses.physics
        frames = render_episodes(env, physics, image_size).frames if image_size else None
        episodes, test = np.arange(cfg.poses), split_episodes(cfg.poses, cfg.test_fraction, cfg.seed)[1]
    else:
        source, source_dir = load_source_dataset(cfg.task, cfg.preset, cfg.data_dir, cfg.source_dir)
        observations, physics, frames = source.z, source.physics, None
        if image_size:
            cached = load_or_render_frames(
                env, source, source_dir, frames_dir(cfg.data_dir, cfg.task, image_size), image_size
            )
            observations, frames = cached.state, cached.frames
        split = split_episodes(source.episodes, cfg.test_fraction, cfg.seed)
        episodes, test = probe_subset(split, cfg.episodes)
    targets = probe_targets(env, observations, physics)
    return ProbeSet(observations=observations, targets=targets, episodes=episodes, test=test, frames=frames)


def probe_state(cfg: Config, env: ControlEnv) -> dict:
    """The sanity check: the state read back from itself (R² 1 on every observed quantity), same
    split. The probe geoms' places are a nonlinear function of it (the arm's kinematics): the
    ridge read-out misses them, the MLP finds them."""
    probed = probe_set(cfg, env, None)
    episodes, test = probed.episodes, probed.test
    states = probed.observations[episodes, 1:].reshape(-1, probed.observations.shape[-1])
    results = read_out({"state": states}, probed.targets, episodes, test, cfg.seed, mlp_poolings=("state",))
    metrics = {"task": cfg.task, "encoder": "state", "frames": cfg.frames, "episodes": len(episodes)}
    metrics |= {"test_episodes": len(test), "seed": cfg.seed, **in_view_share(probed.targets, test)}
    return report(cfg, {**metrics, **flat_r2(results)}, results)


def report(cfg: Config, metrics: dict, results: dict) -> dict:
    """Write probe[-label].json beside the encoder's checkpoints and print the R² table."""
    folder = cfg.probe_folder()  # --pooling is refused here: the same as checkpoint_folder()
    if cfg.label:
        out = folder / f"probe-{cfg.label}.json"
    else:
        out = folder / (POSE_PROBE_FILE if cfg.frames == "poses" else "probe.json")
    write_json(out, metrics)
    for pooling, result in results.items():
        print(f"{pooling:>11}: " + ", ".join(f"{k} {v:.3f}" for k, v in result.r2.items()))
    print(f"-> {out}")
    return metrics


# ---------------------------------------------------------------- Modal (cloud GPUs)

phase = cloud.phase_app("train-robots-probe-encoder", Config, main, timeout=2 * 3600)
app = phase.app


if __name__ == "__main__":
    cli.run(main, Config)
