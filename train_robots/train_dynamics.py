"""Phase 3: learn to imagine. Trains the latent world model (dynamics, reward, discount).

Reads the shards of `<data-dir>/<task>/<encoder>/`, holds out whole episodes for
validation, and writes to `<ckpt-dir>/<task>/<encoder>/`:
    dynamics.pt          the WorldModel (train_robots/common/world_model.py) + its normalisers
    dynamics.json        model, val_loss_1step, rollout_error and copy_baseline_error per horizon
                         ("1", "5", "10", "25", "50"; mean per-dimension L1, normalised units), reward_mae, ...
    dynamics_horizon.png open-loop error against horizon, with the copy-last-latent baseline
    dynamics_loss.png    training and validation loss

    python train_robots/train_dynamics.py --task reacher-easy --encoder state --preset cpu --rollout-steps 5
    python train_robots/train_dynamics.py --encoder state --preset cpu --model transformer
    python train_robots/train_dynamics.py --encoder state --preset cpu --compare   # every kind, one plot
    modal run train_robots/train_dynamics.py --encoder vjepa2 --preset full

`--rollout-steps 1` trains the one-step model (teacher forcing); k > 1 unrolls the model on
its own predictions for k steps of each sub-trajectory, so errors cannot compound unseen.
Resumable: progress is saved to dynamics.partial.pt and a rerun of the same command picks it
up (a finished one is reused and only evaluated again; --restart trains anew). dynamics.pt is
replaced only when a run finishes, so a failed run never loses the previous model.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from any directory

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import Tensor, nn  # noqa: E402
from tqdm import tqdm  # noqa: E402

from train_robots.common import cli, cloud  # noqa: E402
from train_robots.common.checkpoint import CheckpointError, load_checkpoint  # noqa: E402
from train_robots.common.data import DataError, Dataset, expert_fields, load_dataset, read_meta  # noqa: E402
from train_robots.common.encoders import DEFAULT_POOLING  # noqa: E402
from train_robots.common.envs import ControlEnv  # noqa: E402
from train_robots.common.presets import sizes_for  # noqa: E402
from train_robots.common.run_config import RunConfig  # noqa: E402
from train_robots.common.runtime import ConfigError, resolve_device, seed_everything, write_json  # noqa: E402
from train_robots.common.training import check_finite, save_curves, split_episodes  # noqa: E402
from train_robots.common.world_model import KINDS, WorldModel, WorldModelConfig, save_world_model  # noqa: E402

REPORT_HORIZONS = (1, 5, 10, 25, 50)
EVAL_STRIDE = 5  # open-loop rollouts start every EVAL_STRIDE steps of each held-out episode
SAVE_EVERY = 500  # steps between progress checkpoints
REWARD_WEIGHT, DISCOUNT_WEIGHT = 1.0, 0.1


@dataclass
class Config(RunConfig):
    model: str = "mlp"
    """mlp (residual MLP) or transformer (causal, over a window of past latents and actions)."""
    ensemble: int = 1
    """Members of the ensemble; their disagreement is the model's uncertainty."""
    rollout_steps: int | None = None
    """Training horizon: 1 = one-step (teacher forcing); k > 1 unrolls the model k steps on its own
    predictions (default: from the preset)."""
    width: int | None = None
    """Hidden (MLP) or model (Transformer) width (default: from the preset)."""
    depth: int | None = None
    """Hidden layers (MLP) or Transformer blocks (default: from the preset)."""
    window: int | None = None
    """Transformer context in steps (default: from the preset)."""
    steps: int | None = None
    """Gradient steps (default: from the preset)."""
    batch: int | None = None
    """Sub-trajectories per gradient step (default: from the preset)."""
    lr: float | None = None
    """AdamW learning rate, cosine-decayed (default: from the preset)."""
    horizon: int | None = None
    """Longest open-loop horizon evaluated (default: from the preset; clipped to the episode length)."""
    weight_decay: float = 1e-4
    """AdamW weight decay."""
    val_fraction: float = 0.2
    """Share of episodes held out for validation."""
    name: str = "dynamics"
    """File stem of the outputs (<name>.pt, <name>.json, <name>_horizon.png): lets a planner's
    single model and dream-SAC's ensemble live side by side."""
    compare: bool = False
    """Instead of one model, train mlp 1-step, mlp multi-step, an ensemble and a transformer and
    write dynamics_compare.json / .png (each variant's checkpoint as dynamics_<variant>.pt)."""
    restart: bool = False
    """Train from scratch even when a finished or partial run of this config exists."""

    def resolved(self) -> Config:
        """This config with every preset-sized field filled in."""
        preset = sizes_for(self.preset, self.task, self.encoder)
        sizes = {
            "rollout_steps": preset.dynamics_rollout_steps,
            "width": preset.dynamics_width,
            "depth": preset.dynamics_depth,
            "window": preset.dynamics_window,
            "steps": preset.dynamics_steps,
            "batch": preset.dynamics_batch,
            "lr": preset.dynamics_lr,
            "horizon": preset.dynamics_horizon,
        }
        return replace(self, **{k: v if getattr(self, k) is None else getattr(self, k) for k, v in sizes.items()})

    def validate(self) -> None:
        super().validate()
        if self.model not in KINDS:
            raise ConfigError(f"--model {self.model!r} is unknown; choose one of {KINDS}")
        cfg = self.resolved()
        for name in ("ensemble", "rollout_steps", "width", "depth", "window", "steps", "batch", "horizon"):
            if getattr(cfg, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(cfg, name)}")
        if not cfg.lr > 0:
            raise ConfigError(f"--lr must be positive, got {cfg.lr}")
        if not self.name or "/" in self.name or self.name.endswith(".pt"):
            raise ConfigError(f"--name must be a file stem such as dynamics_ensemble, got {self.name!r}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"--val-fraction must lie in (0, 1), got {self.val_fraction}")

    def variant(self) -> str:
        """A short name of the model this config trains, e.g. "ensemble5-mlp-5step"."""
        members = f"ensemble{self.ensemble}-" if self.ensemble > 1 else ""
        return f"{members}{self.model}-{self.rollout_steps}step"

    def world_model_config(self, latent_dim: int, action_dim: int) -> WorldModelConfig:
        return WorldModelConfig(
            latent_dim=latent_dim,
            action_dim=action_dim,
            kind=self.model,
            ensemble=self.ensemble,
            width=self.width,
            depth=self.depth,
            window=self.window,
        )

    def identity(self, data: Dataset) -> dict:
        """What must match for a saved run to be resumed or reused."""
        # The file stem and the evaluation horizon do not change the trained weights.
        skip = ("compare", "restart", "device", "data_dir", "ckpt_dir", "gpu", "horizon", "name")
        skip += ("window",) if self.model == "mlp" else ()  # the MLP has no context window
        skip += ("expert_velocity_gain",)  # the data's expert stands for it (default: named by none)
        fields = {k: v for k, v in asdict(self).items() if k not in skip}
        data_fields = {"data_episodes": data.episodes, "data_encoder": data.meta["encoder"]}
        return {**fields, **data_fields, **expert_fields(data.meta, "data_expert")}


# ---------------------------------------------------------------- data


def load_data(cfg: Config) -> Dataset:
    folder = cfg.dataset_folder()
    meta = read_meta(folder)
    if meta.get("task") != cfg.task:
        raise DataError(f"{folder / 'meta.json'}: task is {meta.get('task')!r}, but --task is {cfg.task!r}")
    sizes = sizes_for(cfg.preset, cfg.task, cfg.encoder)
    if cfg.encoder == "vjepa2":  # its config lives with the weights, maybe unreachable here: compare the id
        pooling = cfg.pooling or DEFAULT_POOLING
        expected = {"name": cfg.encoder, "id": cfg.encoder_source(), "pooling": pooling}
        expected["image_size"] = cfg.encoder_sizes(sizes).image_size
    else:
        expected = cfg.encoder_info(ControlEnv(cfg.task), sizes).to_dict()
    expert = cfg.expert().id
    return load_dataset(folder, expect_encoder=expected, expect_expert=expert)


@dataclass
class Tensors:
    """One split of the dataset on the training device, latents and actions normalised."""

    zn: Tensor  # [N, T+1, D]
    an: Tensor  # [N, T, A]
    reward: Tensor  # [N, T]
    discount: Tensor  # [N, T]

    @classmethod
    def of(cls, data: Dataset, model: WorldModel, device: torch.device) -> Tensors:
        with torch.no_grad():
            zn = model.normalize(torch.as_tensor(data.z, device=device))
            an = model.normalize_action(torch.as_tensor(data.action, device=device))
        as_t = lambda x: torch.as_tensor(x, dtype=torch.float32, device=device)  # noqa: E731
        return cls(zn, an, as_t(data.reward), as_t(data.discount))

    def windows(self, episodes: Tensor, starts: Tensor, length: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Sub-trajectories of `length` steps: zn [B, L+1, D], an [B, L, A], reward, discount [B, L]."""
        t = starts[:, None] + torch.arange(length + 1, device=starts.device)
        e = episodes[:, None]
        return self.zn[e, t], self.an[e, t[:, :-1]], self.reward[e, t[:, :-1]], self.discount[e, t[:, :-1]]


def sequence_length(cfg: Config) -> int:
    """Steps per training sub-trajectory: the Transformer's window when teacher-forced,
    and at least the rollout when unrolled (so every history length it will meet is trained)."""
    context = cfg.window if cfg.model == "transformer" else 1
    return context if cfg.rollout_steps == 1 else max(cfg.rollout_steps, context)


# ---------------------------------------------------------------- training


def sequence_loss(model: WorldModel, zn: Tensor, an: Tensor, reward: Tensor, discount: Tensor, open_loop: bool):
    """SmoothL1 on normalised latents + reward MSE + discount BCE, summed over members."""
    total = zn.new_zeros(())
    for member in model.members:
        pred, r, logit = model.member_sequence(member, zn, an, open_loop)
        total = total + nn.functional.smooth_l1_loss(pred, zn[:, 1:])
        total = total + REWARD_WEIGHT * nn.functional.mse_loss(r, reward)
        total = total + DISCOUNT_WEIGHT * nn.functional.binary_cross_entropy_with_logits(logit, discount)
    return total / len(model.members)


def batches(n_episodes: int, steps: int, length: int, batch: int, generator: torch.Generator):
    """Endless epochs over every (episode, start) pair, shuffled: yields (epoch, index, episodes, starts)."""
    pairs = torch.cartesian_prod(torch.arange(n_episodes), torch.arange(steps - length + 1))
    epoch = 0
    while True:
        order = pairs[torch.randperm(len(pairs), generator=generator)]
        for i in range(0, len(order), batch):
            chunk = order[i : i + batch]
            yield epoch, i // batch, chunk[:, 0], chunk[:, 1]
        epoch += 1


def train(cfg: Config, data: Dataset, train_idx: np.ndarray, val_idx: np.ndarray, out: Path) -> tuple[WorldModel, dict]:
    """Train (or resume, or reuse) one world model; saves `out` only when it finishes."""
    device = resolve_device(cfg.device)
    partial = out.with_name(out.stem + ".partial.pt")
    identity = cfg.identity(data)
    seed_everything(cfg.seed)
    model = WorldModel(cfg.world_model_config(data.z.shape[-1], data.action.shape[-1]))
    done = None if cfg.restart else _matching_checkpoint(out, identity, data)
    if done is not None:
        print(f"{out}: already trained with this config; evaluating it again")
        model.load_state_dict(done["model"])
        return model.to(device).eval(), {**done["metrics"].get("train", {}), "reused": True}

    length, episode_steps = sequence_length(cfg), data.action.shape[1]
    if episode_steps < length:
        raise ConfigError(
            f"--rollout-steps/--window need sub-trajectories of {length} steps, but episodes have {episode_steps}"
        )
    train_data = data.subset(train_idx)
    model.set_statistics(*(torch.as_tensor(x) for x in (train_data.z, train_data.action, train_data.reward)))
    model.to(device)
    train_t, val_t = Tensors.of(train_data, model, device), Tensors.of(data.subset(val_idx), model, device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, cfg.steps))
    generator = torch.Generator().manual_seed(cfg.seed)
    step, curves = 0, {"train": [], "validation": []}
    resumed = None if cfg.restart else _matching_checkpoint(partial, identity, data)
    if resumed is not None:
        for thing, key in ((model, "model"), (optimizer, "optimizer"), (schedule, "schedule")):
            thing.load_state_dict(resumed[key])
        generator.set_state(resumed["generator"])
        step, curves = resumed["step"], resumed["metrics"]["curves"]
        print(f"{partial}: resuming at step {step} of {cfg.steps}")

    open_loop, first_step = cfg.rollout_steps > 1, step
    val_batch = _fixed_val_batch(val_t, length, cfg.batch, cfg.seed)
    stream = batches(len(train_idx), episode_steps, length, cfg.batch, generator)
    last_good = partial if partial.exists() else (out if out.exists() else None)
    running, started = [], time.perf_counter()
    model.train()
    with tqdm(total=cfg.steps, initial=step, desc=f"dynamics {cfg.variant()}", unit="step") as progress:
        while step < cfg.steps:
            epoch, index, episodes, starts = next(stream)
            batch_name = f"{index} of epoch {epoch}"
            loss = sequence_loss(model, *train_t.windows(episodes.to(device), starts.to(device), length), open_loop)
            check_finite(loss.item(), step, batch_name, last_good)  # before the step: the weights stay good
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            check_finite(grad_norm.item(), step, f"{batch_name}, gradient norm", last_good)
            optimizer.step()
            schedule.step()
            step += 1
            running.append(loss.item())
            progress.update(1)
            if step % 100 == 0 or step == cfg.steps:
                curves["train"].append(float(np.mean(running)))
                curves["validation"].append(_validation_loss(model, val_batch, open_loop))
                running = []
                progress.set_postfix(loss=f"{curves['train'][-1]:.4g}", val=f"{curves['validation'][-1]:.4g}")
            if step % SAVE_EVERY == 0 and step < cfg.steps:
                state = dict(optimizer=optimizer, schedule=schedule, generator=generator)
                _save(partial, model, cfg, data, step, {"curves": curves}, identity, **state)
                last_good = partial
    seconds = time.perf_counter() - started
    samples = (step - first_step) * cfg.batch * length
    return model.eval(), {
        "curves": curves,
        "train_seconds": seconds,
        "train_samples_per_s": samples / max(seconds, 1e-9),
    }


def _lr_factor(step: int, total: int) -> float:
    """Linear warm-up over the first 5% of steps (at most 100), then cosine decay to 10%."""
    warm = min(1.0, (step + 1) / min(100, max(1, total // 20)))
    return warm * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * min(step, total) / total)))


def _fixed_val_batch(val: Tensors, length: int, batch: int, seed: int):
    generator = torch.Generator().manual_seed(seed + 1)
    n, steps = val.an.shape[0], val.an.shape[1]
    episodes = torch.randint(n, (min(4 * batch, 2048),), generator=generator)
    starts = torch.randint(steps - length + 1, episodes.shape, generator=generator)
    return val.windows(episodes.to(val.zn.device), starts.to(val.zn.device), length)


@torch.no_grad()
def _validation_loss(model: WorldModel, val_batch, open_loop: bool) -> float:
    model.eval()
    loss = sequence_loss(model, *val_batch, open_loop=open_loop).item()
    model.train()
    return loss


def _save(path, model, cfg, data, step, metrics, identity, optimizer=None, schedule=None, generator=None) -> None:
    extra = {}
    if optimizer is not None:  # a progress checkpoint: everything needed to resume
        extra = dict(optimizer=optimizer.state_dict(), schedule=schedule.state_dict(), generator=generator.get_state())
    save_world_model(path, model, cfg.task, data.meta["encoder"], step, metrics, train=identity, **extra)


def _matching_checkpoint(path: Path, identity: dict, data: Dataset) -> dict | None:
    """A checkpoint at `path` made by this very config on this data, else None."""
    if not path.exists():
        return None
    try:
        payload = load_checkpoint(path, "dynamics", encoder=data.meta["encoder"], task=identity["task"])
    except CheckpointError as err:
        print(f"note: not reusing {path}: {err}")
        return None
    return payload if payload["config"].get("train") == identity else None


# ---------------------------------------------------------------- evaluation


@torch.no_grad()
def evaluate(model: WorldModel, data: Dataset, horizon: int, device: torch.device) -> dict:
    """Held-out metrics in normalised latent units: one-step loss, open-loop error per horizon
    against copying the last latent, reward errors (true latents, and along the rollouts)."""
    val = Tensors.of(data, model, device)
    n, steps = val.an.shape[:2]
    # One step from every held-out transition (`next` semantics: no history).
    one = _chunked_rollout(model, val.zn[:, :-1].reshape(n * steps, -1), val.an.reshape(n * steps, 1, -1))
    target = val.zn[:, 1:].reshape(n * steps, -1)
    horizon = min(horizon, steps)
    roll = _open_loop_errors(model, val, horizon)
    by_h = lambda curve: {str(h): float(curve[h - 1]) for h in REPORT_HORIZONS if h <= horizon}  # noqa: E731
    return {
        "val_loss_1step": float(nn.functional.smooth_l1_loss(one["zn"][:, 0], target)),
        "rollout_error": by_h(roll["error"]),
        "copy_baseline_error": by_h(roll["copy"]),
        "reward_mae": float((one["reward"][:, 0] - val.reward.reshape(-1)).abs().mean()),
        "reward_mae_open_loop": roll["reward_mae"],
        "discount_mae": float((one["discount"][:, 0] - val.discount.reshape(-1)).abs().mean()),
        "uncertainty": by_h(roll["uncertainty"]),
        "horizon": horizon,
        "rollouts": roll["rollouts"],
        "rollouts_per_horizon": {h: int(c) for h, c in by_h(roll["count"]).items()},
        "rollout_error_curve": roll["error"].tolist(),
        "copy_baseline_curve": roll["copy"].tolist(),
    }


def _open_loop_errors(model: WorldModel, val: Tensors, horizon: int) -> dict:
    """Open-loop rollouts from every EVAL_STRIDE-th step of every held-out episode, each as far as
    `horizon` or the episode's end: the error at h averages every rollout that reaches h. (Starting
    only where all of `horizon` fits would measure a 50-step horizon on 50-step episodes from the
    first step alone, where the arm is at rest: not the states a planner imagines from.)
    Called under `evaluate`'s no_grad."""
    n, steps = val.an.shape[:2]
    error, copy, uncertainty, count = (np.zeros(horizon) for _ in range(4))
    reward_error, episodes = 0.0, torch.arange(n, device=val.zn.device)
    for start in range(0, steps, EVAL_STRIDE):
        length = min(horizon, steps - start)
        zn, an, reward, _ = val.windows(episodes, torch.full_like(episodes, start), length)
        roll = _chunked_rollout(model, zn[:, 0], an)
        error[:length] += (roll["zn"] - zn[:, 1:]).abs().mean(2).sum(0).cpu().numpy()
        copy[:length] += (zn[:, :1] - zn[:, 1:]).abs().mean(2).sum(0).cpu().numpy()
        uncertainty[:length] += roll["uncertainty"].sum(0).cpu().numpy()
        reward_error += float((roll["reward"] - reward).abs().sum())
        count[:length] += n
    return {
        "error": error / count,
        "copy": copy / count,
        "uncertainty": uncertainty / count,
        "count": count,
        "reward_mae": reward_error / count.sum(),
        "rollouts": int(count[0]),  # every rollout makes its first step
    }


def _chunked_rollout(model: WorldModel, zn0: Tensor, an: Tensor, chunk: int = 512) -> dict[str, Tensor]:
    parts = [model.rollout_normalized(zn0[i : i + chunk], an[i : i + chunk]) for i in range(0, len(zn0), chunk)]
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


# ---------------------------------------------------------------- main


def run_one(cfg: Config, data: Dataset, train_idx, val_idx, out_dir: Path, stem: str) -> dict:
    """Train, evaluate and save one model as <stem>.pt / <stem>.json; returns its metrics."""
    out = out_dir / f"{stem}.pt"
    model, train_stats = train(cfg, data, train_idx, val_idx, out)
    metrics = evaluate(model, data.subset(val_idx), cfg.horizon, next(model.parameters()).device)
    metrics.update(
        model=cfg.model,
        variant=cfg.variant(),
        ensemble=cfg.ensemble,
        rollout_steps=cfg.rollout_steps,
        width=cfg.width,
        depth=cfg.depth,
        window=cfg.window if cfg.model == "transformer" else 1,
        steps=cfg.steps,
        parameters=sum(p.numel() for p in model.parameters()),
        encoder=data.meta["encoder"]["name"],
        encoder_id=data.meta["encoder"].get("id"),
        latent_dim=data.z.shape[-1],
        task=cfg.task,
        seed=cfg.seed,
        preset=cfg.preset,
        train_episodes=len(train_idx),
        val_episodes=len(val_idx),
        train_seconds=train_stats.get("train_seconds"),
        train_samples_per_s=train_stats.get("train_samples_per_s"),
    )
    # A reused model's file stays byte for byte as it was: planners key their results on its hash.
    if not train_stats.pop("reused", False):
        _save(out, model.cpu(), cfg, data, cfg.steps, {**metrics, "train": train_stats}, cfg.identity(data))
    out.with_name(out.stem + ".partial.pt").unlink(missing_ok=True)
    write_json(out_dir / f"{stem}.json", metrics)
    curves = train_stats.get("curves")
    if curves and curves["train"]:
        save_curves(out_dir / f"{stem}_loss.png", curves, "x100 steps", "loss", f"{stem}: {cfg.variant()}", logy=True)
    return metrics


def compare_variants(cfg: Config) -> list[Config]:
    """mlp one-step, mlp multi-step, an ensemble and a transformer (multi-step where it applies)."""
    k = cfg.rollout_steps if cfg.rollout_steps > 1 else 5
    members = cfg.ensemble if cfg.ensemble > 1 else 5
    return [
        replace(cfg, model="mlp", ensemble=1, rollout_steps=1),
        replace(cfg, model="mlp", ensemble=1, rollout_steps=k),
        replace(cfg, model="mlp", ensemble=members, rollout_steps=k),
        replace(cfg, model="transformer", ensemble=1, rollout_steps=k),
    ]


def main(cfg: Config) -> dict:
    """Train the world model of `cfg` (or, with --compare, every kind); returns the metrics."""
    cfg.validate()
    cfg = cfg.resolved()
    data = load_data(cfg)
    train_idx, val_idx = split_episodes(data.episodes, cfg.val_fraction, cfg.seed)
    out_dir = cfg.checkpoint_folder()
    print(f"{data.episodes} episodes ({len(train_idx)} train, {len(val_idx)} held out), D={data.z.shape[-1]}")
    if not cfg.compare:
        metrics = run_one(cfg, data, train_idx, val_idx, out_dir, cfg.name)
        _plot_horizons(out_dir / f"{cfg.name}_horizon.png", {cfg.variant(): metrics}, cfg)
        _print_summary({cfg.variant(): metrics})
        return metrics
    results = {}
    for variant in compare_variants(cfg):
        results[variant.variant()] = run_one(
            variant, data, train_idx, val_idx, out_dir, f"dynamics_{variant.variant()}"
        )
    write_json(out_dir / "dynamics_compare.json", results)
    _plot_horizons(out_dir / "dynamics_compare.png", results, cfg)
    _print_summary(results)
    return results


def _plot_horizons(path: Path, results: dict[str, dict], cfg: Config) -> None:
    curves = {name: m["rollout_error_curve"] for name, m in results.items()}
    curves["copy last latent"] = next(iter(results.values()))["copy_baseline_curve"]
    title = f"{cfg.task} / {cfg.encoder_folder()}: held-out open-loop error"
    save_curves(path, curves, "horizon (steps)", "mean L1 (normalised latent)", title, logy=True)


def _print_summary(results: dict[str, dict]) -> None:
    for name, m in results.items():
        errs = ", ".join(
            f"h{h} {m['rollout_error'][h]:.3g}/{m['copy_baseline_error'][h]:.3g}" for h in m["rollout_error"]
        )
        print(f"{name}: 1-step {m['val_loss_1step']:.3g}, reward MAE {m['reward_mae']:.3g}; model/copy {errs}")


# ---------------------------------------------------------------- Modal (cloud GPUs)

phase = cloud.phase_app("train-robots-dynamics", Config, main, timeout=6 * 3600)
app = phase.app


if __name__ == "__main__":
    cli.run(main, Config)
