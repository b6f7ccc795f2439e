"""Phase 1: behaviour cloning, an MLP policy z -> action trained on the expert's actions.

Trains on every step of the shards with the expert's action as the target (`expert_action`,
so the 30% random exploratory steps still teach what to do from an off-course state),
validates on held-out episodes with early stopping, then runs the policy closed-loop in the
real environment with the encoder in the loop, on evaluation seeds disjoint from the data's.

    python train_robots/train_bc.py --task reacher-easy --encoder state --preset cpu
    python train_robots/train_bc.py --encoder vjepa2-random --preset cpu --eval-episodes 10
    python train_robots/train_bc.py --encoder vjepa2-task --preset cpu --dagger-rounds 6
    modal run train_robots/train_bc.py --encoder vjepa2 --preset full

`--dagger-rounds N` adds DAgger (common/dagger.py): N rounds of running the policy closed loop
and fitting again with the expert's labels of the states it visited.

Writes to `<ckpt-dir>/<task>/<encoder>/`: bc.pt (the policy), bc.json (flat metrics),
bc_loss.png, bc_returns.png and bc_episode0.gif (with DAgger also bc_dagger.npz, the labelled
rounds, and bc_dagger.png). Rerunning the same command reuses a
finished bc.pt / bc.json made with the same settings and data (`--force` redoes them).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from any directory

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from train_robots.common import cli, cloud  # noqa: E402
from train_robots.common.checkpoint import CheckpointError, load_checkpoint  # noqa: E402
from train_robots.common.dagger import LabelledRollouts, labelled_rollouts  # noqa: E402
from train_robots.common.data import META_NAME, DataError, Dataset, load_dataset, recorded_expert  # noqa: E402
from train_robots.common.encoders import Encoder, EncoderInfo  # noqa: E402
from train_robots.common.envs import ControlEnv  # noqa: E402
from train_robots.common.policy import KIND, PolicyController, PolicyMLP, load_policy, save_policy  # noqa: E402
from train_robots.common.presets import Preset, get_preset  # noqa: E402
from train_robots.common.rollout import ExpertController, evaluate, format_success  # noqa: E402
from train_robots.common.run_config import RunConfig  # noqa: E402
from train_robots.common.runtime import (  # noqa: E402
    ConfigError,
    atomic_write_bytes,
    resolve_device,
    seed_everything,
    write_json,
)
from train_robots.common.training import check_finite, save_curves, split_episodes  # noqa: E402


@dataclass
class Config(RunConfig):
    hidden: int | None = None
    """Width of the policy's hidden layers (default: from the preset)."""
    layers: int | None = None
    """Hidden layers of the policy (default: from the preset)."""
    epochs: int | None = None
    """Most passes over the training episodes (default: from the preset)."""
    batch_size: int | None = None
    """Transitions per gradient step (default: from the preset)."""
    lr: float | None = None
    """Adam learning rate (default: from the preset)."""
    weight_decay: float = 1e-4
    """AdamW weight decay."""
    input_noise: float = 0.0
    """Gaussian noise added to the training latents, in units of each dimension's std."""
    latent_change: bool = False
    """The policy also reads z_t - z_{t-1}, the latent's change over the last step: how fast things move,
    which a single pixel latent hardly shows."""
    dagger_rounds: int = 0
    """DAgger rounds after the first fit: each runs the policy closed loop (encoder in the loop), has the
    expert label every state it visits, and fits again on the data plus every label so far. 0: plain BC."""
    dagger_episodes: int = 50
    """Episodes per DAgger round (run in lockstep, from their own seed stream: never an evaluation start)."""
    dagger_steps: int = 200
    """Agent steps per DAgger episode."""
    patience: int = 20
    """Stop after this many epochs without a lower validation loss (the best weights are kept)."""
    val_fraction: float = 0.2
    """Share of the episodes held out for validation (split by episode, never by step)."""
    eval_episodes: int | None = None
    """Closed-loop evaluation episodes (default: from the preset)."""
    eval_episode_steps: int | None = None
    """Agent steps per evaluation episode (default: from the preset; 500 is a full episode)."""
    parallel: int | None = None
    """Evaluation episodes run in lockstep, encoded and acted for in one batch (default: all)."""
    force: bool = False
    """Retrain and re-evaluate even if a finished bc.pt / bc.json with these settings exists."""

    def sizes(self) -> Preset:
        """The preset with this config's explicit sizes applied."""
        fields = {
            "bc_hidden": self.hidden,
            "bc_layers": self.layers,
            "bc_epochs": self.epochs,
            "bc_batch": self.batch_size,
            "bc_lr": self.lr,
            "eval_episodes": self.eval_episodes,
            "eval_episode_steps": self.eval_episode_steps,
        }
        return replace(get_preset(self.preset, self.task), **{k: v for k, v in fields.items() if v is not None})

    def validate(self) -> None:
        super().validate()
        sizes = self.sizes()
        for flag, value in [
            ("hidden", sizes.bc_hidden),
            ("layers", sizes.bc_layers),
            ("epochs", sizes.bc_epochs),
            ("batch-size", sizes.bc_batch),
            ("eval-episodes", sizes.eval_episodes),
            ("eval-episode-steps", sizes.eval_episode_steps),
            ("patience", self.patience),
            ("dagger-episodes", self.dagger_episodes),
            ("dagger-steps", self.dagger_steps),
            ("parallel", 1 if self.parallel is None else self.parallel),
        ]:
            if value < 1:
                raise ConfigError(f"--{flag} must be at least 1, got {value}")
        if not sizes.bc_lr > 0:
            raise ConfigError(f"--lr must be positive, got {sizes.bc_lr}")
        if self.dagger_rounds < 0:
            raise ConfigError(f"--dagger-rounds must be >= 0, got {self.dagger_rounds}")
        if self.input_noise < 0:
            raise ConfigError(f"--input-noise must be >= 0, got {self.input_noise}")
        if self.weight_decay < 0:
            raise ConfigError(f"--weight-decay must be >= 0, got {self.weight_decay}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"--val-fraction must lie in (0, 1), got {self.val_fraction}")


# ---------------------------------------------------------------- data


def load_checked_dataset(cfg: Config, info: EncoderInfo) -> Dataset:
    """The dataset of --task/--encoder, refused if it was made by another encoder."""
    folder = cfg.dataset_folder()
    data = load_dataset(folder, expect_encoder=info.to_dict(), expect_expert=cfg.expert().id)
    if data.meta["task"] != cfg.task:
        raise DataError(f"{folder / META_NAME}: task is {data.meta['task']!r}, but --task is {cfg.task!r}")
    return data


@dataclass
class Transitions:
    """Every (z_t, z_{t-1}, expert action_t) of some episodes, flattened (finite: the loader refuses
    NaN/inf). At an episode's first step z_{t-1} is z_t itself, as in closed loop: no change yet."""

    z: torch.Tensor  # [M, D]
    previous: torch.Tensor  # [M, D]
    target: torch.Tensor  # [M, A]

    def __add__(self, other: Transitions) -> Transitions:
        cat = torch.cat
        return Transitions(
            cat([self.z, other.z]), cat([self.previous, other.previous]), cat([self.target, other.target])
        )


def transitions(data: Dataset, episodes: np.ndarray, device: torch.device) -> Transitions:
    # the last observation has no action
    return labelled_transitions(data.z[episodes, :-1], data.expert_action[episodes], device)


def labelled_transitions(z: np.ndarray, expert_action: np.ndarray, device: torch.device) -> Transitions:
    """Episodes of latents z [E, T, D] with the expert's action at each [E, T, A], flattened."""
    previous = np.concatenate([z[:, :1], z[:, :-1]], axis=1)
    flat = lambda x: torch.as_tensor(x.reshape(-1, x.shape[-1]), device=device)  # noqa: E731
    return Transitions(z=flat(z), previous=flat(previous), target=flat(expert_action))


# ---------------------------------------------------------------- training


def build_policy(cfg: Config, env: ControlEnv, train: Transitions) -> PolicyMLP:
    sizes = cfg.sizes()
    policy = PolicyMLP(
        train.z.shape[1],
        env.action_dim,
        sizes.bc_hidden,
        sizes.bc_layers,
        env.action_low,
        env.action_high,
        latent_change=cfg.latent_change,
    )
    inputs = policy.inputs(train.z.cpu(), train.previous.cpu()).numpy()
    policy.set_normalizer(inputs.mean(axis=0), inputs.std(axis=0))
    return policy.to(train.z.device)


@torch.no_grad()
def mean_loss(policy: PolicyMLP, part: Transitions, chunk: int = 8192) -> float:
    total = 0.0
    for i in range(0, len(part.z), chunk):
        pred = policy(part.z[i : i + chunk], part.previous[i : i + chunk])
        total += torch.nn.functional.mse_loss(pred, part.target[i : i + chunk], reduction="sum").item()
    return total / part.target.numel()


def train_policy(cfg: Config, policy: PolicyMLP, train: Transitions, val: Transitions, partial: Path, save) -> dict:
    """Minibatch MSE on the expert's actions with early stopping; restores the best weights."""
    sizes = cfg.sizes()
    optimizer = torch.optim.AdamW(policy.parameters(), lr=sizes.bc_lr, weight_decay=cfg.weight_decay)
    rng = np.random.default_rng(cfg.seed)
    history = {"train": [], "val": []}
    best = {"val_loss": math.inf, "epoch": 0, "state": None}
    step, kept = 0, None
    progress = tqdm(range(1, sizes.bc_epochs + 1), desc="bc epochs", unit="ep")
    for epoch in progress:
        policy.train()
        order, losses = rng.permutation(len(train.z)), []
        for index, start in enumerate(range(0, len(order), sizes.bc_batch)):
            rows = order[start : start + sizes.bc_batch]
            z, previous = train.z[rows], train.previous[rows]
            if cfg.input_noise > 0:  # smooths the policy between the few states the data visits
                noise = cfg.input_noise * policy.z_std[: z.shape[1]] * torch.randn_like(z)
                z, previous = z + noise, previous + noise  # the same shift: the latent's change stays true
            loss = torch.nn.functional.mse_loss(policy(z, previous), train.target[rows])
            step += 1
            if not math.isfinite(loss.item()):
                check_finite(loss.item(), step, f"{index} of epoch {epoch}", last_good=kept)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        policy.eval()
        val_loss = mean_loss(policy, val)
        check_finite(val_loss, step, f"validation after epoch {epoch}", last_good=kept)
        history["train"].append(float(np.mean(losses)))
        history["val"].append(val_loss)
        if val_loss < best["val_loss"]:
            best = {"val_loss": val_loss, "epoch": epoch, "state": _copy_state(policy)}
            save(partial, step, {"finished": False, "epoch": epoch, "val_loss": val_loss})
            kept = partial
        progress.set_postfix(train=f"{history['train'][-1]:.4f}", val=f"{val_loss:.4f}", best=best["epoch"])
        if epoch - best["epoch"] >= cfg.patience:
            break
    policy.load_state_dict(best["state"])
    return {
        "history": history,
        "steps": step,
        "epochs": len(history["val"]),
        "best_epoch": best["epoch"],
        "val_loss": best["val_loss"],
        "train_loss": history["train"][best["epoch"] - 1],
    }


def _copy_state(policy: PolicyMLP) -> dict:
    return {k: v.detach().clone() for k, v in policy.state_dict().items()}


def mean_action_loss(train: Transitions, val: Transitions) -> float:
    """Validation MSE of always predicting the training mean action: the floor BC must beat."""
    mean = train.target.mean(dim=0)
    return torch.nn.functional.mse_loss(mean.expand_as(val.target), val.target).item()


# ---------------------------------------------------------------- resume bookkeeping


def training_signature(cfg: Config, data: Dataset) -> dict:
    """Everything the trained weights depend on; a finished bc.pt with the same one is reused."""
    sizes = cfg.sizes()
    meta = data.meta
    return {
        "hidden": sizes.bc_hidden,
        "layers": sizes.bc_layers,
        "max_epochs": sizes.bc_epochs,
        "batch_size": sizes.bc_batch,
        "lr": sizes.bc_lr,
        "weight_decay": cfg.weight_decay,
        "input_noise": cfg.input_noise,
        "latent_change": cfg.latent_change,
        "patience": cfg.patience,
        "dagger": [cfg.dagger_rounds, cfg.dagger_episodes, cfg.dagger_steps] if cfg.dagger_rounds else None,
        "val_fraction": cfg.val_fraction,
        "seed": cfg.seed,
        "data": {
            **{k: meta.get(k) for k in ("encoder", "episodes", "transitions", "seed", "epsilon", "code_version")},
            "expert": recorded_expert(meta),  # data collected again by a retrained expert is other data
        },
    }


def run_key(signature: dict, sizes: Preset) -> str:
    """A short hash of the training signature plus the evaluation settings."""
    blob = json.dumps({**signature, "eval": [sizes.eval_episodes, sizes.eval_episode_steps]}, sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def finished_policy(path: Path, info: EncoderInfo, cfg: Config, signature: dict) -> tuple[PolicyMLP, dict] | None:
    """The policy and metrics of a finished bc.pt made with this signature, else None."""
    if cfg.force or not path.exists():
        return None
    try:
        payload = load_checkpoint(path, KIND, encoder=info.to_dict(), task=cfg.task)
    except CheckpointError:
        return None  # made for something else: retrain and replace it
    if not payload["metrics"].get("finished") or payload["config"].get("signature") != signature:
        return None
    return load_policy(path, device=resolve_device(cfg.device)), payload["metrics"]


# ---------------------------------------------------------------- main


def main(cfg: Config) -> dict:
    """Train (or reuse) the BC policy of `cfg`, evaluate it closed-loop; returns bc.json's metrics."""
    cfg.validate()
    sizes = cfg.sizes()
    device = resolve_device(cfg.device)
    seed_everything(cfg.seed)
    env = ControlEnv(cfg.task)
    info = cfg.encoder_info(env, sizes)
    data = load_checked_dataset(cfg, info)
    out = cfg.checkpoint_folder()
    signature = training_signature(cfg, data)
    key = run_key(signature, sizes)
    if not cfg.force and (out / "bc.json").exists() and (out / "bc.pt").exists():
        previous = json.loads((out / "bc.json").read_text())
        if previous.get("run_key") == key:
            print(f"{out / 'bc.json'}: up to date with these settings; skipping (--force redoes it)")
            return previous

    encoder = cfg.build_encoder(env, sizes, device)
    reused = finished_policy(out / "bc.pt", info, cfg, signature)
    if reused is not None:
        print(f"{out / 'bc.pt'}: finished with these settings; reusing it")
        policy, fit = reused
    else:
        policy, fit = fit_policy(cfg, env, data, info, out, signature, device, encoder)

    print(f"closed-loop evaluation: {sizes.eval_episodes} episodes x {sizes.eval_episode_steps} steps")
    evaluation = evaluate(
        env,
        encoder,
        PolicyController(policy),
        sizes.eval_episodes,
        sizes.eval_episode_steps,
        cfg.seed,
        parallel=cfg.parallel,
        gif_path=out / "bc_episode0.gif",
        plot_path=out / "bc_returns.png",
        desc=f"bc eval ({cfg.encoder_folder()})",
    )
    metrics = {
        **evaluation,
        **{k: fit[k] for k in ("train_loss", "val_loss", "val_loss_mean_action", "epochs", "best_epoch", "steps")},
        **{k: fit.get(k) for k in ("dagger_transitions", "dagger_success_by_round", "dagger_return_by_round")},
        "encoder_id": info.id,
        "encoder_dim": info.dim,
        "task": cfg.task,
        "seed": cfg.seed,
        "preset": cfg.preset,
        "hidden": sizes.bc_hidden,
        "layers": sizes.bc_layers,
        "latent_change": cfg.latent_change,
        "lr": sizes.bc_lr,
        "batch_size": sizes.bc_batch,
        "train_episodes": fit["train_episodes"],
        "val_episodes": fit["val_episodes"],
        "run_key": key,
    }
    write_json(out / "bc.json", metrics)
    print(
        f"BC [{cfg.encoder_folder()}] success {format_success(metrics['success_rate'])}, return {metrics['mean_return']:.1f} "
        f"± {metrics['std_return']:.1f}, {metrics['ms_per_action']:.3f} ms/action, "
        f"{metrics['ms_per_step']:.1f} ms/step -> {out / 'bc.json'}"
    )
    return metrics


def fit_policy(
    cfg: Config,
    env: ControlEnv,
    data: Dataset,
    info: EncoderInfo,
    out: Path,
    signature: dict,
    device: torch.device,
    encoder: Encoder,
) -> tuple[PolicyMLP, dict]:
    """Split, train (then the DAgger rounds, if any) and save bc.pt (+ bc_loss.png); returns the
    policy and its fit metrics."""
    train_idx, val_idx = split_episodes(data.episodes, cfg.val_fraction, cfg.seed)
    train, val = transitions(data, train_idx, device), transitions(data, val_idx, device)
    print(f"BC on {len(train_idx)} train / {len(val_idx)} val episodes ({len(train.z)} transitions), {info.name}")
    config = {"signature": signature, **asdict(cfg), "data_dir": str(cfg.data_dir), "ckpt_dir": str(cfg.ckpt_dir)}
    rounds = DaggerRounds.load(out / DAGGER_FILE, signature, cfg.dagger_rounds)
    policy, fit, history = fit_once(cfg, env, rounds.added_to(train, device), val, info, out, config)
    remaining = range(len(rounds.success), cfg.dagger_rounds)
    expert = ExpertController(cfg.expert()) if remaining else None  # a locomotion expert is a file read
    for r in remaining:
        rollouts = labelled_rollouts(
            env,
            encoder,
            PolicyController(policy),
            expert,
            cfg.dagger_episodes,
            cfg.dagger_steps,
            cfg.seed,
            first_episode=r * cfg.dagger_episodes,  # every round starts from new states
            desc=f"dagger round {r + 1}/{cfg.dagger_rounds}",
        )
        rounds.add(rollouts).save(out / DAGGER_FILE, signature)
        print(f"DAgger round {r + 1}: the policy solved {format_success(rollouts.success_rate)}; refitting")
        policy, fit, history = fit_once(cfg, env, rounds.added_to(train, device), val, info, out, config)
    fit.update(
        val_loss_mean_action=mean_action_loss(train, val),
        train_episodes=[int(i) for i in train_idx],
        val_episodes=[int(i) for i in val_idx],
        dagger_transitions=rounds.size,
        dagger_success_by_round=rounds.success,
        dagger_return_by_round=rounds.returns,
    )
    save_policy(out / "bc.pt", policy, cfg.task, info.to_dict(), fit["steps"], {**fit, "finished": True}, config)
    save_curves(out / "bc_loss.png", history, "epoch", "MSE to expert action", f"BC ({info.name})", logy=True)
    if rounds.success:
        rounds.plot(out / "bc_dagger.png", f"BC ({info.name}) with DAgger", cfg.dagger_steps)
    print(f"val loss {fit['val_loss']:.5f} (mean-action baseline {fit['val_loss_mean_action']:.5f})")
    return policy, fit


def fit_once(
    cfg: Config, env: ControlEnv, train: Transitions, val: Transitions, info: EncoderInfo, out: Path, config: dict
) -> tuple[PolicyMLP, dict, dict]:
    """A fresh policy fitted to `train`, early-stopped on `val`: (policy, fit metrics, loss history)."""
    torch.manual_seed(cfg.seed)  # each fit starts alike, whatever ran before it (an encoder, a round)
    policy = build_policy(cfg, env, train)

    def save(path: Path, step: int, metrics: dict) -> None:
        save_policy(path, policy, cfg.task, info.to_dict(), step, metrics, config)

    partial = out / "bc.partial.pt"  # best-so-far while training; bc.pt is only replaced by a finished run
    fit = train_policy(cfg, policy, train, val, partial, save)
    partial.unlink(missing_ok=True)
    return policy, fit, fit.pop("history")


# ---------------------------------------------------------------- DAgger rounds on disk

DAGGER_FILE = "bc_dagger.npz"


@dataclass
class DaggerRounds:
    """The expert-labelled rollouts of the DAgger rounds done so far, kept so a rerun resumes."""

    z: list[np.ndarray]  # per round [E, T, D]
    expert_action: list[np.ndarray]  # per round [E, T, A]
    success: list[float | None]  # the collecting policy's success on that round's episodes
    returns: list[float]

    @classmethod
    def load(cls, path: Path, signature: dict, rounds: int) -> DaggerRounds:
        """The rounds saved at `path` by a run with this signature (bar the number of rounds), at most
        `rounds` of them; none if there is no such file."""
        empty = cls([], [], [], [])
        if rounds == 0 or not path.exists():
            return empty
        with np.load(path) as saved:
            if json.loads(str(saved["signature"])) != _without_rounds(signature):
                print(f"note: {path} was made with other settings; starting the DAgger rounds anew")
                return empty
            n = min(rounds, len(saved["success"]))
            print(f"{path}: resuming after DAgger round {n}")
            success = [None if np.isnan(x) else float(x) for x in saved["success"][:n]]
            return cls(list(saved["z"][:n]), list(saved["expert_action"][:n]), success, saved["returns"][:n].tolist())

    def add(self, rollouts: LabelledRollouts) -> DaggerRounds:
        self.z.append(rollouts.z)
        self.expert_action.append(rollouts.expert_action)
        self.success.append(rollouts.success_rate)
        self.returns.append(rollouts.mean_return)
        return self

    def save(self, path: Path, signature: dict) -> None:
        buffer = io.BytesIO()
        np.savez(
            buffer,
            z=np.stack(self.z),
            expert_action=np.stack(self.expert_action),
            success=np.array([np.nan if x is None else x for x in self.success]),
            returns=np.array(self.returns),
            signature=json.dumps(_without_rounds(signature), sort_keys=True),
        )
        atomic_write_bytes(path, buffer.getvalue())

    @property
    def size(self) -> int:
        """Labelled transitions in every round."""
        return sum(z.shape[0] * z.shape[1] for z in self.z)

    def added_to(self, train: Transitions, device: torch.device) -> Transitions:
        """`train` and every round's labelled transitions."""
        if not self.z:
            return train
        return train + labelled_transitions(np.concatenate(self.z), np.concatenate(self.expert_action), device)

    def plot(self, path: Path, title: str, episode_steps: int) -> None:
        """Each round's success and return: those of the policy fitted before it, on its own episodes."""
        curves = {"success (%)": [100 * (x or 0.0) for x in self.success]} if self.success[0] is not None else {}
        curves[f"mean return ({episode_steps}-step episodes)"] = self.returns
        save_curves(path, curves, "DAgger round (the policy fitted before it)", "closed loop", title)


def _without_rounds(signature: dict) -> dict:
    """What the saved rounds depend on: everything but how many rounds are asked for."""
    dagger = signature.get("dagger")
    return {**signature, "dagger": dagger[1:] if dagger else None}


# ---------------------------------------------------------------- Modal (cloud GPUs)

phase = cloud.phase_app("train-robots-bc", Config, main, timeout=3 * 3600)
app = phase.app


if __name__ == "__main__":
    cli.run(main, Config)
