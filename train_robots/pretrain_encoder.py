"""Phase 0: V-JEPA pretraining of a small `VJEPA2Model` on the task's own video (`vjepa2-task`).

No pretrained V-JEPA 2 weights can be downloaded here, and random ViT features carry little
of the arm's state. This script trains a small encoder the way V-JEPA 2 itself was trained,
on 2-frame clips (previous frame, current frame) re-rendered from the exact physics states of
the task's exploratory episodes:

- a context encoder sees only the context tokens of a multiblock 3D mask (common/jepa.py);
- a target encoder, an EMA of the context encoder (momentum rising from --ema-start to
  --ema-end), sees the whole clip; its output is layer-normed;
- the model's own predictor fills in the target tokens; L1 loss; AdamW with linear warm-up
  and cosine decay.

A collapse monitor (the target features' per-dimension std and effective rank) stops a
collapsed run, a NaN loss stops the run, and a ridge probe of the true state from the pooled
latents (held-out episodes, never seen in pretraining) measures what the encoder learnt.

    python train_robots/generate_and_encode_modal.py --task reacher-easy --encoder state --preset cpu
    python train_robots/pretrain_encoder.py --task reacher-easy --preset cpu
    modal run train_robots/pretrain_encoder.py --preset full

Reads <data-dir>/<task>/state/ (or --source-dir: any dataset of the task; only its physics
states are used) and caches its frames in <data-dir>/<task>/frames-<size>px/. Writes to
<ckpt-dir>/<task>/vjepa2-task/: encoder/ (a `save_pretrained` directory: load it with
`VJEPA2Model.from_pretrained` and `AutoVideoProcessor.from_pretrained`, or
`common.task_encoder.load_task_encoder`), pretrain.pt (resumable), pretrain.json (flat
metrics) and pretrain_curves.png. Rerunning the same command resumes an interrupted run from
its last checkpoint and reuses a finished one; other settings are refused (--force restarts).
Batches and masks are a function of (seed, step) alone, so a resumed run draws what an
uninterrupted one would have.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from any directory

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from train_robots.common import cli, cloud  # noqa: E402
from train_robots.common.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from train_robots.common.collapse import check_collapse, clip_std, effective_rank, feature_std  # noqa: E402
from train_robots.common.data import Dataset, expert_fields  # noqa: E402
from train_robots.common.encoders import DEFAULT_VJEPA2_ID  # noqa: E402
from train_robots.common.envs import ControlEnv  # noqa: E402
from train_robots.common.frames import (  # noqa: E402
    Frames,
    clip_pairs,
    frames_dir,
    load_or_render_frames,
    load_source_dataset,
)
from train_robots.common.jepa import JEPA  # noqa: E402
from train_robots.common.latent_probe import ProbeTargets, flat_r2, probe_poolings, probe_targets  # noqa: E402
from train_robots.common.masks import Grid, MaskSpec, sample_masks  # noqa: E402
from train_robots.common.pooling import check_pooling  # noqa: E402
from train_robots.common.presets import Preset, get_preset  # noqa: E402
from train_robots.common.run_config import RunConfig  # noqa: E402
from train_robots.common.runtime import (  # noqa: E402
    ConfigError,
    resolve_device,
    seed_everything,
    write_json,
)
from train_robots.common.schedules import ema_momentum, warmup_cosine  # noqa: E402
from train_robots.common.task_encoder import (  # noqa: E402
    INFO_NAME,
    TASK_ENCODER_NAME,
    clips_to_pixels,
    save_task_encoder,
    task_encoder_config,
    task_processor,
)
from train_robots.common.training import check_finite, save_panels, split_episodes  # noqa: E402

KIND = "pretrain"


@dataclass
class Config(RunConfig):
    encoder: str = TASK_ENCODER_NAME
    """The encoder this script makes: vjepa2-task (written to <ckpt-dir>/<task>/vjepa2-task/encoder)."""
    image_size: int | None = None
    """Frame size in pixels (default: from the preset)."""
    patch_size: int | None = None
    """Patch size in pixels (default: from the preset)."""
    width: int | None = None
    """Encoder width (default: from the preset)."""
    depth: int | None = None
    """Encoder blocks (default: from the preset)."""
    heads: int | None = None
    """Encoder attention heads (default: from the preset)."""
    pred_width: int | None = None
    """Predictor width (default: from the preset)."""
    pred_depth: int | None = None
    """Predictor blocks (default: from the preset)."""
    pred_heads: int | None = None
    """Predictor attention heads (default: from the preset)."""
    batch_size: int | None = None
    """Clips per gradient step (default: from the preset)."""
    steps: int | None = None
    """Gradient steps (default: from the preset)."""
    lr: float | None = None
    """Peak learning rate (default: from the preset)."""
    warmup: int | None = None
    """Linear warm-up steps (default: from the preset)."""
    ema_start: float | None = None
    """EMA momentum of the target encoder at the first step (default: from the preset)."""
    ema_end: float | None = None
    """EMA momentum at the last step (default: from the preset)."""
    start_lr_fraction: float = 0.1
    """Learning rate at step 0, as a fraction of the peak (warm-up starts there)."""
    final_lr_fraction: float = 0.01
    """Learning rate at the last step, as a fraction of the peak (end of the cosine)."""
    weight_decay: float = 0.04
    """AdamW weight decay (not on biases and norms)."""
    mask_blocks: tuple[int, ...] = (8, 2)
    """Blocks per mask, one entry per mask kind (V-JEPA: 8 short-range and 2 long-range)."""
    mask_scales: tuple[float, ...] = (0.15, 0.7)
    """Spatial share of the token grid one block covers, one entry per mask kind."""
    mask_aspect: tuple[float, float] = (0.75, 1.5)
    """Range of a block's height / width."""
    min_context: float = 0.25
    """Least share of a clip's tokens left to the context encoder (blocks that would hide more are skipped)."""
    var_weight: float | None = None
    """Weight of a VICReg variance term on the per-clip mean context features (0: V-JEPA as published;
    default: from the preset, 1 on cpu; common/jepa.py `clip_spread_loss` says why reacher needs it)."""
    cov_weight: float | None = None
    """Weight of the matching VICReg covariance term, decorrelating the clip-level feature dimensions
    (default: from the preset, 1 on cpu)."""
    var_floor: float = 0.1
    """The per-dimension std across clips the variance term asks for (features are layer-normed per token)."""
    pooling: str = "grid2"
    """Pooling of the encoder's tokens into the downstream latent: mean, grid<k> or mean+grid<k>."""
    probe_poolings: tuple[str, ...] = ("mean", "grid2", "mean+grid2", "grid4")
    """Poolings the final probe compares."""
    probe_every: int | None = None
    """Steps between probes during training, on a subset of episodes (0: only at the end; default: preset)."""
    probe_episodes: int = 60
    """Episodes the periodic probe encodes (the final probe uses every episode)."""
    test_fraction: float = 0.2
    """Share of the episodes held out of pretraining; the probe is scored on them."""
    checkpoint_every: int = 250
    """Steps between checkpoints of pretrain.pt (and at the end)."""
    monitor_every: int = 25
    """Steps between readings of the collapse monitor."""
    collapse_std: float = 0.05
    """Stop when the target features' mean per-dimension std falls below this."""
    collapse_rank: float = 2.0
    """Stop when the target features' effective rank falls below this."""
    encode_batch: int = 256
    """Clips per forward pass when probing."""
    source_dir: Path | None = None
    """Dataset whose episodes are rendered (default: <data-dir>/<task>/state)."""
    frames_dir: Path | None = None
    """Frames cache (default: <data-dir>/<task>/frames-<image-size>px)."""
    threads: int = 1
    """torch CPU threads (0: torch's default). One by default: on a 2-core machine shared with other jobs a
    second OpenMP thread mostly waits for a busy core (measured 6x slower than one thread)."""
    force: bool = False
    """Start over even if pretrain.pt or a finished encoder with other settings exists."""

    def sizes(self) -> Preset:
        """The preset with this config's explicit sizes applied."""
        fields = {
            "pretrain_image_size": self.image_size,
            "pretrain_patch": self.patch_size,
            "pretrain_width": self.width,
            "pretrain_depth": self.depth,
            "pretrain_heads": self.heads,
            "pretrain_pred_width": self.pred_width,
            "pretrain_pred_depth": self.pred_depth,
            "pretrain_pred_heads": self.pred_heads,
            "pretrain_batch": self.batch_size,
            "pretrain_steps": self.steps,
            "pretrain_lr": self.lr,
            "pretrain_warmup": self.warmup,
            "pretrain_ema_start": self.ema_start,
            "pretrain_ema_end": self.ema_end,
            "pretrain_probe_every": self.probe_every,
            "pretrain_var_weight": self.var_weight,
            "pretrain_cov_weight": self.cov_weight,
        }
        return replace(get_preset(self.preset, self.task), **{k: v for k, v in fields.items() if v is not None})

    def spread(self) -> tuple[float, float, float]:
        """(variance weight, covariance weight, std floor) of the VICReg term; weights 0: V-JEPA alone."""
        s = self.sizes()
        return s.pretrain_var_weight, s.pretrain_cov_weight, self.var_floor

    def mask_specs(self) -> list[MaskSpec]:
        return [MaskSpec(b, s, tuple(self.mask_aspect)) for b, s in zip(self.mask_blocks, self.mask_scales)]

    def on_volume(self) -> Config:
        # --source-dir and --frames-dir name local paths; on the volume its defaults are used.
        return replace(super().on_volume(), source_dir=None, frames_dir=None)

    def check_encoder_variant(self) -> None:
        """Here --image-size and --pooling size the encoder being pretrained (checked where it is built)."""

    def encoder_folder(self) -> str:
        """The encoder pretrained here has one folder, whatever its size and pooling."""
        return TASK_ENCODER_NAME

    def probe_folder(self) -> Path:
        """Its probe lives in that one folder too (where probe_encoder.py writes it)."""
        return self.checkpoint_folder()

    def validate(self) -> None:
        super().validate()
        if self.encoder != TASK_ENCODER_NAME or self.encoder_id != DEFAULT_VJEPA2_ID:
            raise ConfigError(
                f"pretrain_encoder.py makes {TASK_ENCODER_NAME} in <ckpt-dir>/<task>/{TASK_ENCODER_NAME}/encoder; "
                "leave --encoder and --encoder-id out (other encoders are not trained here)"
            )
        s = self.sizes()
        for flag, value in [
            ("image-size", s.pretrain_image_size),
            ("patch-size", s.pretrain_patch),
            ("width", s.pretrain_width),
            ("depth", s.pretrain_depth),
            ("heads", s.pretrain_heads),
            ("pred-width", s.pretrain_pred_width),
            ("pred-depth", s.pretrain_pred_depth),
            ("pred-heads", s.pretrain_pred_heads),
            ("batch-size", s.pretrain_batch),
            ("steps", s.pretrain_steps),
            ("checkpoint-every", self.checkpoint_every),
            ("monitor-every", self.monitor_every),
            ("encode-batch", self.encode_batch),
        ]:
            if value < 1:
                raise ConfigError(f"--{flag} must be at least 1, got {value}")
        if s.pretrain_image_size % s.pretrain_patch:
            raise ConfigError(
                f"--image-size {s.pretrain_image_size} must be a multiple of --patch-size {s.pretrain_patch}"
            )
        if s.pretrain_width % s.pretrain_heads or s.pretrain_pred_width % s.pretrain_pred_heads:
            raise ConfigError("--width must be a multiple of --heads, and --pred-width of --pred-heads")
        if not s.pretrain_lr > 0 or s.pretrain_warmup < 0 or s.pretrain_probe_every < 0:
            raise ConfigError("--lr must be positive, --warmup and --probe-every >= 0")
        if not 0.0 <= s.pretrain_ema_start <= s.pretrain_ema_end <= 1.0:
            raise ConfigError(
                f"need 0 <= --ema-start <= --ema-end <= 1, got {s.pretrain_ema_start}, {s.pretrain_ema_end}"
            )
        if min(self.spread()) < 0 or self.var_floor <= 0:
            raise ConfigError("--var-weight and --cov-weight must be >= 0 and --var-floor positive")
        if len(self.mask_blocks) != len(self.mask_scales) or not self.mask_blocks:
            raise ConfigError("--mask-blocks and --mask-scales need one entry per mask kind, as many of each")
        if s.pretrain_batch < len(self.mask_blocks):
            raise ConfigError(f"--batch-size must be at least the number of mask kinds ({len(self.mask_blocks)})")
        try:
            for spec in self.mask_specs():
                spec.validate()
            for name in {self.pooling, *self.probe_poolings}:
                check_pooling(name, s.pretrain_image_size // s.pretrain_patch)
        except ValueError as err:
            raise ConfigError(str(err)) from err
        if not 0.0 <= self.min_context < 1.0 or not 0.0 < self.test_fraction < 1.0:
            raise ConfigError("--min-context must lie in [0, 1) and --test-fraction in (0, 1)")


# ---------------------------------------------------------------- data


def sample_batch(frames: np.ndarray, episodes: np.ndarray, batch: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 clips [B, 2, H, W, 3] of random steps t >= 1 of random `episodes`."""
    chosen = rng.choice(episodes, size=batch)
    steps = rng.integers(1, frames.shape[1], size=batch)
    return clip_pairs(frames, chosen, steps)


# ---------------------------------------------------------------- model and optimiser


def build_model(sizes: Preset, seed: int):
    """The `VJEPA2Model` to pretrain, initialised from `seed`."""
    from transformers import VJEPA2Model

    config = task_encoder_config(
        sizes.pretrain_image_size,
        sizes.pretrain_patch,
        sizes.pretrain_width,
        sizes.pretrain_depth,
        sizes.pretrain_heads,
        sizes.pretrain_pred_width,
        sizes.pretrain_pred_depth,
        sizes.pretrain_pred_heads,
    )
    torch.manual_seed(seed)
    return VJEPA2Model(config)


def build_optimizer(model: torch.nn.Module, weight_decay: float) -> torch.optim.AdamW:
    """AdamW; biases, norms and the mask tokens are not decayed (as in I-JEPA / V-JEPA)."""
    decay, plain = [], []
    for name, param in model.named_parameters():
        (plain if param.ndim <= 1 or "mask_tokens" in name else decay).append(param)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, betas=(0.9, 0.999))


def export_model(jepa: JEPA):
    """A `VJEPA2Model` whose encoder is the EMA target encoder (what V-JEPA evaluates) and whose
    predictor is the trained one."""
    from transformers import VJEPA2Model

    model = VJEPA2Model(jepa.model.config)
    model.load_state_dict(jepa.model.state_dict())
    model.encoder.load_state_dict(jepa.target_encoder.state_dict())
    return model.eval()


# ---------------------------------------------------------------- resume bookkeeping


def training_signature(cfg: Config, data: Dataset) -> dict:
    """Everything the weights depend on; a checkpoint with another one is not resumed."""
    s = cfg.sizes()
    # The spread weights enter as "spread", and only when used, as they did before they were preset
    # fields: encoders trained before keep their signature.
    unsigned = ("pretrain_probe_every", "pretrain_var_weight", "pretrain_cov_weight")
    sizes = {k: v for k, v in asdict(s).items() if k.startswith("pretrain_") and k not in unsigned}
    var_weight, cov_weight, floor = cfg.spread()
    return {
        **sizes,
        "start_lr_fraction": cfg.start_lr_fraction,
        "final_lr_fraction": cfg.final_lr_fraction,
        "weight_decay": cfg.weight_decay,
        "masks": [asdict(m) for m in cfg.mask_specs()],
        "min_context": cfg.min_context,
        **({"spread": [var_weight, cov_weight, floor]} if var_weight or cov_weight else {}),
        "test_fraction": cfg.test_fraction,
        "seed": cfg.seed,
        "task": cfg.task,
        **{
            f"data_{k}": data.meta.get(k)
            for k in ("task", "episodes", "episode_steps", "seed", "epsilon", "physics_dim")
        },
        **expert_fields(data.meta, "data_expert"),  # another expert's episodes are other video
    }


def run_key(cfg: Config, signature: dict) -> str:
    """Hash of the signature plus what the final probe does: a finished run with this key is reused."""
    extra = [cfg.pooling, list(cfg.probe_poolings), cfg.sizes().pretrain_probe_every, cfg.probe_episodes]
    return hashlib.sha1(json.dumps([signature, extra], sort_keys=True).encode()).hexdigest()[:12]


def refuse_other_settings(path: Path, saved: dict, signature: dict) -> None:
    diffs = [
        f"{k}: checkpoint has {saved.get(k)!r}, this run has {v!r}" for k, v in signature.items() if saved.get(k) != v
    ]
    raise ConfigError(
        f"{path}: was made with other settings; refusing to resume it.\n  "
        + "\n  ".join(diffs)
        + "\nRerun with the settings it was made with to resume, or add --force to start over."
    )


# ---------------------------------------------------------------- training


@dataclass
class State:
    """What a checkpoint restores besides the weights."""

    step: int = 0
    seconds: float = 0.0
    """Training wall time so far (probes excluded), summed over resumed sessions."""
    history: dict | None = None

    def __post_init__(self):
        if self.history is None:
            self.history = {"loss": [], "lr": [], "monitor": [], "probe": []}


def train_step(
    jepa: JEPA,
    optimizer: torch.optim.Optimizer,
    pixels: torch.Tensor,
    specs: list[MaskSpec],
    grid: Grid,
    min_context: int,
    rng: np.random.Generator,
    momentum: float,
    step: int,
    kept: str,
) -> tuple[float, torch.Tensor]:
    """One V-JEPA update: the batch is shared out among the mask kinds; returns (loss, targets)."""
    device = pixels.device
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()
    total, targets = 0.0, []
    for spec, rows in zip(specs, np.array_split(np.arange(len(pixels)), len(specs))):
        masks = sample_masks(spec, grid, len(rows), min_context, rng)
        with autocast:
            loss, target = jepa(pixels[rows], masks.context.to(device), masks.target.to(device))
        total = total + loss * (len(rows) / len(pixels))
        targets.append(target)
    check_finite(total.item(), step, f"step {step}", last_good=kept)
    optimizer.zero_grad(set_to_none=True)
    total.backward()
    optimizer.step()
    jepa.update_target(momentum)
    return total.item(), torch.cat(targets)


def periodic_probe_episodes(train_eps: np.ndarray, test_eps: np.ndarray, count: int) -> np.ndarray:
    """A fixed subset for the probes during training: test episodes in their held-out share."""
    n_test = min(len(test_eps), max(2, round(count * len(test_eps) / (len(train_eps) + len(test_eps)))))
    return np.sort(np.concatenate([train_eps[: max(2, count - n_test)], test_eps[:n_test]]))


def save_state(path: Path, jepa: JEPA, optimizer, state: State, cfg: Config, signature: dict, finished: bool) -> None:
    save_checkpoint(
        path,
        {
            "kind": KIND,
            "model": jepa.model.state_dict(),
            "target_encoder": jepa.target_encoder.state_dict(),
            "optimizer": optimizer.state_dict(),
            "config": {
                "signature": signature,
                **asdict(cfg),
                "data_dir": str(cfg.data_dir),
                "ckpt_dir": str(cfg.ckpt_dir),
            },
            "task": cfg.task,
            "encoder": {"name": TASK_ENCODER_NAME, "id": "pretraining", "dim": jepa.model.config.hidden_size},
            "step": state.step,
            "metrics": {"finished": finished, "seconds": state.seconds},
            "history": state.history,
        },
    )


def train(
    cfg: Config,
    jepa: JEPA,
    optimizer,
    processor,
    data: Frames,
    truth: ProbeTargets,
    split,
    state: State,
    out: Path,
    signature,
    device,
) -> State:
    """Pretrain from `state.step` to the last step, checkpointing, monitoring and probing."""
    sizes = cfg.sizes()
    train_eps, test_eps = split
    side = sizes.pretrain_image_size // sizes.pretrain_patch
    grid = Grid(depth=1, height=side, width=side)
    min_context = int(np.ceil(cfg.min_context * grid.tokens))
    specs = cfg.mask_specs()
    total = sizes.pretrain_steps
    ckpt = out / "pretrain.pt"
    probe_eps = periodic_probe_episodes(train_eps, test_eps, cfg.probe_episodes)
    bar = tqdm(range(state.step, total), initial=state.step, total=total, desc="V-JEPA pretraining", unit="step")
    for step in bar:
        every = sizes.pretrain_probe_every
        if every and step % every == 0 and not any(p["step"] == step for p in state.history["probe"]):
            state.history["probe"].append(
                probe_during_training(cfg, jepa, processor, data, truth, probe_eps, test_eps, step, device)
            )
        started = time.perf_counter()
        lr = warmup_cosine(
            step,
            total,
            sizes.pretrain_warmup,
            sizes.pretrain_lr,
            sizes.pretrain_lr * cfg.start_lr_fraction,
            sizes.pretrain_lr * cfg.final_lr_fraction,
        )
        for group in optimizer.param_groups:
            group["lr"] = lr
        momentum = ema_momentum(step, total, sizes.pretrain_ema_start, sizes.pretrain_ema_end)
        rng = np.random.default_rng([cfg.seed, step])
        clips = sample_batch(data.frames, train_eps, sizes.pretrain_batch, rng)
        pixels = clips_to_pixels(processor, clips, device)
        kept = f"the last checkpoint is {ckpt}" if ckpt.exists() else "no checkpoint was saved yet"
        loss, targets = train_step(jepa, optimizer, pixels, specs, grid, min_context, rng, momentum, step, kept)
        state.seconds += time.perf_counter() - started
        state.history["loss"].append(loss)
        state.history["lr"].append(lr)
        state.step = step + 1
        if step % cfg.monitor_every == 0 or state.step == total:
            std, rank = feature_std(targets), effective_rank(targets)
            state.history["monitor"].append({"step": step, "std": std, "rank": rank, "clip_std": clip_std(targets)})
            bar.set_postfix(
                loss=f"{loss:.4f}",
                std=f"{std:.3f}",
                clip_std=f"{state.history['monitor'][-1]['clip_std']:.3f}",
                rank=f"{rank:.1f}",
                lr=f"{lr:.1e}",
            )
            check_collapse(std, rank, step, cfg.collapse_std, cfg.collapse_rank, kept)
        if state.step % cfg.checkpoint_every == 0 or state.step == total:
            save_state(ckpt, jepa, optimizer, state, cfg, signature, finished=state.step == total)
    return state


def probe_during_training(cfg, jepa, processor, data, truth, episodes, test_eps, step, device) -> dict:
    """Held-out R² of the current target encoder, pooled by mean and the chosen pooling, on a subset
    of episodes: {"step", "r2": {pooling: {quantity: R²}}}."""
    model = export_model(jepa).to(device)
    held_out = np.intersect1d(episodes, test_eps)
    poolings = list(dict.fromkeys(["mean", cfg.pooling]))
    results = probe_poolings(
        model, processor, data.frames, truth, episodes, held_out, poolings, cfg.encode_batch, device
    )
    for pooling, result in results.items():
        tqdm.write(f"step {step}: probe R² ({pooling}) " + ", ".join(f"{k} {v:.2f}" for k, v in result.r2.items()))
    return {"step": step, "r2": {p: r.r2 for p, r in results.items()}}


# ---------------------------------------------------------------- outputs


def save_curves(path: Path, state: State, pooling: str) -> None:
    """pretrain_curves.png: loss, the collapse monitor and the periodic probe."""
    loss = np.asarray(state.history["loss"])
    window = max(1, min(50, len(loss) // 20))
    smooth = np.convolve(loss, np.ones(window) / window, mode="valid") if len(loss) else loss
    monitor = state.history["monitor"]
    steps = [m["step"] for m in monitor]
    panels = {
        "L1 loss (log)": {
            "per step": (list(range(len(loss))), loss.tolist()),
            f"mean of {window}": (list(range(window - 1, len(loss))), smooth.tolist()),
        },
        "target std over tokens (per dim)": {"std": (steps, [m["std"] for m in monitor])},
        "target std over clips (mean-pooled)": {"std": (steps, [m.get("clip_std", float("nan")) for m in monitor])},
        "target effective rank": {"rank": (steps, [m["rank"] for m in monitor])},
    }
    probes = state.history["probe"]
    if probes:
        names = list(probes[0]["r2"][pooling])
        panels[f"probe R² held out ({pooling})"] = {
            n: ([p["step"] for p in probes], [p["r2"][pooling][n] for p in probes]) for n in names
        }
    save_panels(path, panels, "step")


def finish(cfg, jepa, processor, data, truth, split, state, out, source_dir, device, key) -> dict:
    """Final probe over every episode, the save_pretrained directory, pretrain.json and the plot."""
    sizes = cfg.sizes()
    train_eps, test_eps = split
    model = export_model(jepa).to(device)
    episodes = np.arange(len(data.frames))
    print(f"final probe: {len(episodes)} episodes ({len(test_eps)} held out), poolings {list(cfg.probe_poolings)}")
    started = time.perf_counter()
    results = probe_poolings(
        model,
        processor,
        data.frames,
        truth,
        episodes,
        test_eps,
        list(dict.fromkeys([cfg.pooling, *cfg.probe_poolings])),
        cfg.encode_batch,
        device,
        mlp_poolings=(cfg.pooling,),
    )
    probe_seconds = time.perf_counter() - started
    last = state.history["monitor"][-1]
    tail = state.history["loss"][-100:]
    metrics = {
        "task": cfg.task,
        "preset": cfg.preset,
        "seed": cfg.seed,
        "steps": state.step,
        "batch_size": sizes.pretrain_batch,
        "image_size": sizes.pretrain_image_size,
        "patch_size": sizes.pretrain_patch,
        "width": sizes.pretrain_width,
        "depth": sizes.pretrain_depth,
        "encoder_params": sum(p.numel() for p in jepa.model.encoder.parameters()),
        "predictor_params": sum(p.numel() for p in jepa.model.predictor.parameters()),
        "train_seconds": state.seconds,
        "samples_per_s": state.step * sizes.pretrain_batch / state.seconds if state.seconds else 0.0,
        "probe_seconds": probe_seconds,
        "final_loss": float(np.mean(tail)),
        "target_std": last["std"],
        "effective_rank": last["rank"],
        "target_clip_std": last.get("clip_std", float("nan")),
        "pooling": cfg.pooling,
        "train_episodes": len(train_eps),
        "test_episodes": len(test_eps),
        "threads": torch.get_num_threads(),
        "device": device.type,
        "run_key": key,
        **flat_r2(results),
    }
    info = save_task_encoder(
        out / "encoder",
        model.cpu(),
        processor,
        {
            "task": cfg.task,
            "pooling": cfg.pooling,
            "source_dir": str(source_dir),
            "frames_dir": str(cfg.frames_dir or frames_dir(cfg.data_dir, cfg.task, sizes.pretrain_image_size)),
            "test_episodes": [int(e) for e in test_eps],
            "probe_r2": {p: r.r2 for p, r in results.items()},
            **{k: metrics[k] for k in ("steps", "batch_size", "target_std", "effective_rank", "final_loss", "seed")},
        },
    )
    metrics.update(encoder_dir=str(out / "encoder"), encoder_id=info["encoder_id"])
    write_json(out / "pretrain.json", metrics)
    save_curves(out / "pretrain_curves.png", state, cfg.pooling)
    r2 = results[cfg.pooling].r2
    print(f"probe R² ({cfg.pooling}, held out): " + ", ".join(f"{k} {v:.3f}" for k, v in r2.items()))
    print(f"encoder -> {out / 'encoder'} ({info['encoder_id']})")
    return metrics


# ---------------------------------------------------------------- main


def main(cfg: Config) -> dict:
    """Pretrain (or resume, or reuse) the task's V-JEPA encoder; returns pretrain.json's metrics."""
    cfg.validate()
    sizes = cfg.sizes()
    device = resolve_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed)
    env = ControlEnv(cfg.task)
    source, source_dir = load_source_dataset(cfg.task, cfg.preset, cfg.data_dir, cfg.source_dir)
    out = cfg.checkpoint_folder()
    signature = training_signature(cfg, source)
    key = run_key(cfg, signature)
    if not cfg.force and (out / "pretrain.json").exists() and (out / "encoder" / INFO_NAME).exists():
        previous = json.loads((out / "pretrain.json").read_text())
        if previous.get("run_key") == key:
            print(f"{out / 'pretrain.json'}: finished with these settings; reusing it (--force redoes it)")
            return previous

    folder = Path(cfg.frames_dir) if cfg.frames_dir else frames_dir(cfg.data_dir, cfg.task, sizes.pretrain_image_size)
    data = load_or_render_frames(env, source, source_dir, folder, sizes.pretrain_image_size)
    truth = probe_targets(env, data.state, source.physics)  # what the probes read out of the latents
    split = split_episodes(len(data.frames), cfg.test_fraction, cfg.seed)
    jepa = JEPA(build_model(sizes, cfg.seed), spread=cfg.spread()).to(device)
    optimizer = build_optimizer(jepa.model, cfg.weight_decay)
    processor = task_processor(sizes.pretrain_image_size)
    state = resume(out / "pretrain.pt", cfg, jepa, optimizer, signature)
    print(
        f"V-JEPA pretraining on {len(split[0])} episodes of {cfg.task} ({len(split[1])} held out for the probe), "
        f"{sizes.pretrain_image_size}px, encoder {sizes.pretrain_width}x{sizes.pretrain_depth}, "
        f"{sizes.pretrain_steps} steps x {sizes.pretrain_batch} clips, from step {state.step}"
    )
    state = train(cfg, jepa, optimizer, processor, data, truth, split, state, out, signature, device)
    return finish(cfg, jepa, processor, data, truth, split, state, out, source_dir, device, key)


def resume(path: Path, cfg: Config, jepa: JEPA, optimizer, signature: dict) -> State:
    """Load pretrain.pt into the model and optimiser when it matches this run; a fresh State otherwise."""
    if cfg.force or not path.exists():
        return State()
    payload = load_checkpoint(path, KIND, task=cfg.task)
    if payload["config"].get("signature") != signature:
        refuse_other_settings(path, payload["config"].get("signature", {}), signature)
    jepa.model.load_state_dict(payload["model"])
    jepa.target_encoder.load_state_dict(payload["target_encoder"])
    optimizer.load_state_dict(payload["optimizer"])
    print(f"{path}: resuming from step {payload['step']}")
    return State(step=payload["step"], seconds=payload["metrics"]["seconds"], history=payload["history"])


# ---------------------------------------------------------------- Modal (cloud GPUs)

phase = cloud.phase_app("train-robots-pretrain-encoder", Config, main, timeout=6 * 3600)
app = phase.app


if __name__ == "__main__":
    cli.run(main, Config)
