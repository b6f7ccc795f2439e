"""Phase 5: a policy from dreams — SAC trained only on imagined rollouts.

No environment interaction during training. Start states are latents of the dataset's
shards; the world model (phase 3, `dynamics.pt`: ensemble + reward and discount heads)
rolls them forward for `--horizon` steps under the current actor; the imagined transitions
fill a replay buffer (MBPO/MOPO-style) that SAC learns from. The real environment is only
used to *evaluate* the actor (closed loop, encoder in the loop) every `--eval-every` updates.

Guards against the actor exploiting model errors (they need an ensemble world model,
`train_dynamics.py --ensemble 5`):
  * `--uncertainty-penalty` lambda: imagined reward r - lambda * u, where u is the ensemble's
    disagreement about the next latent (MOPO; `--reward-disagreement` adds the members'
    spread about the reward);
  * `--truncate-quantile` q: an imagined rollout ends once u exceeds the q-quantile of u on
    the dataset's own transitions, i.e. when it leaves the data the model was fitted on; with
    `--halt` (default) it ends in an absorbing state worth the data's lowest reward (MOReL).
`--bc-weight` pulls the actor towards the dataset's expert actions (TD3+BC-style; 0 = pure
dreams). The defaults are the settings measured best on reacher-easy (see README).

    python train_robots/train_dream_sac.py --task reacher-easy --encoder state --preset cpu
    modal run train_robots/train_dream_sac.py --task reacher-easy --encoder vjepa2 --preset full

Writes to `<ckpt-dir>/<task>/<encoder>/`: sac.pt (resumable: a rerun continues from its
step), sac.json (final evaluation, settings and the comparison table of the task),
comparison.md, sac_curves.png (imagined vs real return), sac_eval.png and sac.gif.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from any directory

import json  # noqa: E402

import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from train_robots.common import cli, cloud  # noqa: E402
from train_robots.common.checkpoint import encoder_mismatch  # noqa: E402
from train_robots.common.data import Dataset, load_dataset  # noqa: E402
from train_robots.common.encoders import StateEncoder  # noqa: E402
from train_robots.common.envs import ControlEnv, task_spec  # noqa: E402
from train_robots.common.latent_probe import POSE_PROBE_FILE, probe_markdown, read_probe  # noqa: E402
from train_robots.common.presets import Preset, get_preset  # noqa: E402
from train_robots.common.rollout import ExpertController, evaluate, format_success  # noqa: E402
from train_robots.common.run_config import RunConfig  # noqa: E402
from train_robots.common.runtime import ConfigError, resolve_device, seed_everything, write_json  # noqa: E402
from train_robots.common.sac import ReplayBuffer, SACAgent, SACConfig, SACController, load_agent, save_agent  # noqa: E402
from train_robots.common.training import check_finite, save_curves  # noqa: E402
from train_robots.common.world_model import WorldModel, load_world_model  # noqa: E402

BUFFER_BYTES = 1 << 30
"""The replay buffer's capacity is capped so that its latents fit in this much memory."""


@dataclass
class Config(RunConfig):
    dynamics: Path | None = None
    """The world model to dream in (default: <ckpt-dir>/<task>/<encoder>/dynamics.pt)."""
    updates: int | None = None
    """SAC gradient steps (default: from the preset)."""
    horizon: int = 5
    """Imagined steps per rollout: short, since model error compounds; the critic bootstraps beyond."""
    rollout_batch: int = 1000
    """Start states imagined from per refill of the replay buffer."""
    rollout_every: int = 250
    """Updates between refills (each adds up to rollout_batch * horizon transitions)."""
    buffer_size: int = 100_000
    """Imagined transitions kept (oldest dropped first; capped to fit 1 GiB of latents)."""
    batch_size: int = 256
    """Transitions per SAC update."""
    hidden: int = 256
    """Width of the actor's and critics' hidden layers."""
    gamma: float = 0.99
    """Discount of the SAC returns (times the world model's predicted discount)."""
    uncertainty_penalty: float = 10.0
    """lambda of the MOPO penalty r - lambda * disagreement (0: no penalty). On reacher-easy
    (state) disagreement is ~0.02 on the data and 0.07-0.12 where the policy fails."""
    truncate_quantile: float = 0.99
    """Stop a rollout once disagreement exceeds this quantile of that on real transitions (1: never)."""
    reward_disagreement: bool = False
    """The disagreement also counts the members' spread about the reward (--no-reward-disagreement:
    the world model's latent disagreement alone)."""
    halt: bool = True
    """A rollout that leaves the data ends in an absorbing state worth the data's lowest reward
    (MOReL's HALT) instead of being cut off (--no-halt), so the critic learns to fear leaving."""
    bc_weight: float = 0.4
    """Pull the actor's mean action towards the dataset's expert actions, weighted relative to the
    mean |Q| (0.4 = TD3+BC's alpha 2.5; 0: pure dreams, which exploit the model more, see README)."""
    eval_every: int | None = None
    """Updates between closed-loop evaluations in the real env (default: from the preset)."""
    eval_episodes_during: int | None = None
    """Episodes of each periodic evaluation (default: from the preset)."""
    eval_episodes: int | None = None
    """Episodes of the final evaluation (default: the preset's eval_episodes)."""
    eval_episode_steps: int | None = None
    """Agent steps per evaluation episode (default: from the preset)."""
    imagined_starts: int = 500
    """Dataset episodes (the first N) whose start latents the imagined return averages over, at each
    evaluation: a whole-episode dream each (on 2400 pixel episodes all of them took about 7 min of one
    thread, six times a run; the first 500, 1.5 min, give the mean within 1%)."""
    parallel: int | None = None
    """Evaluation episodes run in lockstep, encoded and acted for in one batch (default: all)."""

    def on_volume(self) -> Config:
        # A --dynamics path names a file here, not on the volume: there, use the default.
        return replace(super().on_volume(), dynamics=None)

    def sizes(self) -> Preset:
        return get_preset(self.preset, self.task)

    def resolved(self) -> Config:
        """This config with every preset-sized field filled in."""
        p = self.sizes()
        return replace(
            self,
            updates=self.updates if self.updates is not None else p.sac_updates,
            eval_every=self.eval_every if self.eval_every is not None else p.sac_eval_every,
            eval_episodes_during=(
                self.eval_episodes_during if self.eval_episodes_during is not None else p.sac_eval_episodes
            ),
            eval_episodes=self.eval_episodes if self.eval_episodes is not None else p.eval_episodes,
            eval_episode_steps=self.eval_episode_steps if self.eval_episode_steps is not None else p.eval_episode_steps,
        )

    def validate(self) -> None:
        super().validate()
        positive = ("updates", "horizon", "rollout_batch", "rollout_every", "buffer_size", "batch_size", "hidden")
        positive += ("eval_every", "eval_episodes_during", "eval_episodes", "eval_episode_steps", "parallel")
        positive += ("imagined_starts",)
        for name in positive:
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        if not 0.0 < self.gamma < 1.0:
            raise ConfigError(f"--gamma must lie in (0, 1), got {self.gamma}")
        if not 0.0 < self.truncate_quantile <= 1.0:
            raise ConfigError(f"--truncate-quantile must lie in (0, 1], got {self.truncate_quantile}")
        if self.uncertainty_penalty < 0 or self.bc_weight < 0:
            raise ConfigError("--uncertainty-penalty and --bc-weight must be >= 0")

    def training_settings(self) -> dict:
        """What a resumed run must share with the run that wrote sac.pt."""
        keys = ("task", "encoder", "seed", "horizon", "rollout_batch", "rollout_every", "batch_size", "hidden")
        keys += ("gamma", "uncertainty_penalty", "reward_disagreement", "truncate_quantile", "halt", "bc_weight")
        return {k: getattr(self, k) for k in keys}


# ---------------------------------------------------------------- imagination


def dream_step(model: WorldModel, z: torch.Tensor, action: torch.Tensor, reward_disagreement: bool) -> dict:
    """One imagined step: next latent, reward, discount and the ensemble's disagreement.

    The disagreement is the model's own (about the next latent, normalised units), plus,
    with `reward_disagreement`, the members' standard deviation about the reward (MOPO
    penalises the spread of the whole predicted transition; a reward head can be wrong off
    the data while the latent heads still agree)."""
    step = model.rollout(z, action[:, None])
    out = {k: v[:, 0] for k, v in step.items()}
    if reward_disagreement and len(model.members) > 1:
        zn, an = model.normalize(z)[:, None], model.normalize_action(action)[:, None]
        rewards = torch.stack([member(zn, an)[1][:, -1] for member in model.members])
        out["uncertainty"] = out["uncertainty"] + rewards.std(0, unbiased=False)
    return out


@torch.no_grad()
def imagine(
    model: WorldModel,
    agent: SACAgent,
    z0: torch.Tensor,
    horizon: int,
    penalty: float,
    max_uncertainty: float,
    halt_reward: float | None = None,
    reward_disagreement: bool = False,
) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """Roll the stochastic actor through the model from z0 [B, D] for `horizon` steps.

    Rewards are penalised by `penalty` * disagreement. A rollout ends at the first step whose
    disagreement exceeds `max_uncertainty` (it left the data). With `halt_reward` set, that
    step is kept as a terminal transition worth `halt_reward` (MOReL's absorbing HALT state:
    leaving the data is worth no more than the worst reward seen in it); without, it is
    dropped and the critic bootstraps from the last in-data state. Returns the transitions
    and statistics of this batch of dreams."""
    z, alive = z0, torch.ones(len(z0), dtype=torch.bool, device=z0.device)
    kept: list[dict[str, torch.Tensor]] = []
    raw_rewards, uncertainties, halted = [], [], 0
    for _ in range(horizon):
        action = agent.act(z)
        step = dream_step(model, z, action, reward_disagreement)
        next_z, reward, discount, uncertainty = step["z"], step["reward"], step["discount"], step["uncertainty"]
        leaves = alive & (uncertainty > max_uncertainty)
        keep = alive if halt_reward is not None else alive & ~leaves
        shaped = reward - penalty * uncertainty
        if halt_reward is not None:
            shaped = torch.where(leaves, torch.full_like(shaped, halt_reward), shaped)
            discount = torch.where(leaves, torch.zeros_like(discount), discount)
        if keep.any():
            raw_rewards.append(reward[keep])
            uncertainties.append(uncertainty[keep])
            kept.append(
                {
                    "z": z[keep],
                    "action": action[keep],
                    "reward": shaped[keep],
                    "next_z": next_z[keep],
                    "discount": discount[keep],
                }
            )
        halted += int(leaves.sum())
        alive = alive & ~leaves
        if not alive.any():
            break
        z = next_z
    if not kept:
        return {}, {"dream_reward": 0.0, "dream_uncertainty": 0.0, "dream_kept": 0.0, "dream_left_data": 1.0}
    transitions = {k: torch.cat([t[k] for t in kept]) for k in kept[0]}
    stats = {
        "dream_reward": torch.cat(raw_rewards).mean().item(),
        "dream_uncertainty": torch.cat(uncertainties).mean().item(),
        "dream_kept": len(transitions["z"]) / (len(z0) * horizon),
        "dream_left_data": halted / len(z0),
    }
    return transitions, stats


@torch.no_grad()
def imagined_return(model: WorldModel, agent: SACAgent, z0: torch.Tensor, steps: int) -> float:
    """Mean return the model predicts for the deterministic actor over a whole episode from
    real start latents: set beside the real return, the gap is the model's over-optimism."""
    z, total = z0, torch.zeros(len(z0), device=z0.device)
    for _ in range(steps):
        step = model.rollout(z, agent.act(z, deterministic=True)[:, None])
        total += step["reward"][:, 0]
        z = step["z"][:, 0]
    return total.mean().item()


@torch.no_grad()
def data_uncertainty_quantile(
    model: WorldModel, data: Dataset, q: float, device: torch.device, reward_disagreement: bool = True
) -> float:
    """The q-quantile of the ensemble's disagreement on real (z, a) pairs of the dataset."""
    if q >= 1.0:
        return float("inf")
    z = torch.as_tensor(data.z[:, :-1].reshape(-1, data.z.shape[-1]))
    a = torch.as_tensor(data.action.reshape(-1, data.action.shape[-1]))
    pick = torch.randperm(len(z), generator=torch.Generator().manual_seed(0))[:20_000]
    u = torch.cat(
        [
            dream_step(model, z[i].to(device), a[i].to(device), reward_disagreement)["uncertainty"]
            for i in pick.split(4096)
        ]
    )
    return torch.quantile(u.cpu(), q).item()


# ---------------------------------------------------------------- comparison


COMPARED = (
    ("BC", "bc.json"),
    ("CEM", "mpc_cem.json"),
    ("MPPI", "mpc_mppi.json"),
)


def comparison_rows(out: Path, expert: dict, sac: dict, encoder: str) -> list[dict]:
    """One table for the task: expert, BC, CEM, MPPI, dream-SAC (missing json: "not run")."""
    rows = [_row("expert", expert, "none (reads the physics)", "rollout.ExpertController")]
    for method, name in COMPARED:
        path = out / name
        if not path.exists():
            rows.append({"method": method, "encoder": encoder, "status": "not run", "source": name})
            continue
        try:
            metrics = json.loads(path.read_text())
        except json.JSONDecodeError:
            rows.append({"method": method, "encoder": encoder, "status": "unreadable", "source": name})
            continue
        rows.append(_row(method, metrics, metrics.get("encoder", encoder), name))
    rows.append(_row("dream-SAC", sac, encoder, "sac.json"))
    return rows


def _row(method: str, metrics: dict, encoder: str, source: str) -> dict:
    row = {"method": method, "encoder": encoder, "status": "ok", "source": source}
    for key in ("success_rate", "mean_return", "std_return", "ms_per_action", "episodes"):
        row[key] = metrics.get(key)
    return row


def comparison_markdown(rows: list[dict], task: str) -> str:
    lines = [
        f"# {task}: closed-loop comparison",
        "",
        "| method | encoder | success | mean return | ms / action | episodes |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["status"] != "ok":
            lines.append(f"| {r['method']} | {r['encoder']} | {r['status']} | {r['status']} | {r['status']} | |")
            continue
        success = format_success(r["success_rate"] if task_spec(task).has_success else None)
        ret = "n/a" if r["mean_return"] is None else f"{r['mean_return']:.1f} ± {r['std_return'] or 0:.1f}"
        ms = "n/a" if r["ms_per_action"] is None else f"{r['ms_per_action']:.3f}"
        lines.append(f"| {r['method']} | {r['encoder']} | {success} | {ret} | {ms} | {r['episodes'] or ''} |")
    lines += [
        "",
        "ms / action: the controller alone (the encoder excluded), per episode: the time of one batched "
        "call for the episodes run in lockstep, divided by their number.",
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- training


def build_agent(cfg: Config, data: Dataset, env: ControlEnv) -> SACAgent:
    z = data.z.reshape(-1, data.z.shape[-1])
    sac_cfg = SACConfig(
        latent_dim=z.shape[-1], action_dim=env.action_dim, hidden=cfg.hidden, gamma=cfg.gamma, bc_weight=cfg.bc_weight
    )
    return SACAgent(sac_cfg, z.mean(0), z.std(0), env.action_low, env.action_high)


def resume_or_start(cfg: Config, path: Path, data: Dataset, env: ControlEnv, encoder: dict) -> tuple:
    """(agent, step, history): from sac.pt when it exists and matches this run, else fresh."""
    if not path.exists():
        return build_agent(cfg, data, env), 0, {}
    agent, payload = load_agent(path, encoder=encoder, task=cfg.task)
    saved = payload["config"].get("training", {})
    diffs = {k: (saved.get(k), v) for k, v in cfg.training_settings().items() if saved.get(k) != v}
    if diffs:
        listed = ", ".join(f"{k}: saved {a!r}, now {b!r}" for k, (a, b) in diffs.items())
        raise ConfigError(
            f"{path} was trained with other settings ({listed}); rerun with those, "
            "or use another --ckpt-dir (or delete the file) to start over"
        )
    print(f"resuming {path} at update {payload['step']}")
    return agent, payload["step"], payload.get("history", {})


def main(cfg: Config) -> dict:
    """Train (or resume) dream-SAC, evaluate it in the real env; returns sac.json's content."""
    cfg = cfg.resolved()
    cfg.validate()
    device = resolve_device(cfg.device)
    seed_everything(cfg.seed)
    out = cfg.checkpoint_folder()
    env = ControlEnv(cfg.task)
    data = load_dataset(cfg.dataset_folder(), expect_expert=cfg.expert().id)
    encoder_meta = data.meta["encoder"]
    if encoder_meta["name"] != cfg.encoder:
        raise ConfigError(f"the dataset's encoder is {encoder_meta['name']!r}, but --encoder is {cfg.encoder!r}")
    model = load_world_model(cfg.dynamics or out / "dynamics.pt", encoder=encoder_meta, task=cfg.task).to(device)
    if len(model.members) < 2 and (cfg.uncertainty_penalty > 0 or cfg.truncate_quantile < 1):
        print(
            "note: the world model is a single network, so it has no disagreement: the uncertainty "
            "penalty and truncation do nothing (train it with `train_dynamics.py --ensemble 5`)"
        )
    path = out / "sac.pt"
    agent, step, history = resume_or_start(cfg, path, data, env, encoder_meta)
    if step >= cfg.updates and (finished := _finished_metrics(out, cfg)) is not None:
        print(f"{path} is trained ({step} updates) and evaluated; refreshing the comparison only")
        return refresh_comparison(cfg, out, finished)
    agent.to(device)

    starts = torch.as_tensor(data.z.reshape(-1, data.z.shape[-1]), device=device)
    episode_starts = torch.as_tensor(data.z[: cfg.imagined_starts, 0], device=device)
    max_u = data_uncertainty_quantile(model, data, cfg.truncate_quantile, device, cfg.reward_disagreement)
    halt_reward = float(data.reward.min()) if cfg.halt else None
    capacity = max(cfg.batch_size, min(cfg.buffer_size, BUFFER_BYTES // (8 * starts.shape[-1])))
    buffer = ReplayBuffer(capacity, starts.shape[-1], env.action_dim, device)
    bc_z = torch.as_tensor(data.z[:, :-1].reshape(-1, starts.shape[-1]), device=device)
    bc_a = torch.as_tensor(data.expert_action.reshape(-1, env.action_dim), device=device)
    eval_encoder = cfg.build_encoder(env, cfg.sizes(), device)
    if diffs := encoder_mismatch(encoder_meta, eval_encoder.info.to_dict()):
        raise ConfigError(
            f"the dataset was encoded by another encoder than --encoder/--encoder-id ({'; '.join(diffs)})"
        )
    settings = {"training": cfg.training_settings(), "run": _jsonable(asdict(cfg))}

    def refill() -> dict[str, float]:
        z0 = starts[torch.randint(len(starts), (cfg.rollout_batch,), device=device)]
        transitions, stats = imagine(
            model, agent, z0, cfg.horizon, cfg.uncertainty_penalty, max_u, halt_reward, cfg.reward_disagreement
        )
        if transitions:
            buffer.add(transitions)
        return stats

    # Fresh or resumed, the buffer starts empty: fill it with dreams of the current actor.
    dream = refill()
    while len(buffer) < cfg.batch_size:
        dream = refill()
    losses: dict[str, float] = {}
    progress = tqdm(range(step, cfg.updates), initial=step, total=cfg.updates, desc="dream-SAC", unit="upd")
    for step in progress:
        if step % cfg.rollout_every == 0 and step > 0:
            dream = refill()
        pick = torch.randint(len(bc_z), (cfg.batch_size,), device=device) if cfg.bc_weight > 0 else None
        losses = agent.update(
            buffer.sample(cfg.batch_size),
            bc_z[pick] if pick is not None else None,
            bc_a[pick] if pick is not None else None,
        )
        check_finite(losses["critic_loss"] + losses["actor_loss"], step, "imagined", path if path.exists() else None)
        if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.updates:
            point = periodic_eval(cfg, env, eval_encoder, model, agent, episode_starts, device)
            point.update(update=step + 1, **dream, **losses)
            for key, value in point.items():
                history.setdefault(key, []).append(value)
            progress.set_postfix(real=f"{point['real_return']:.0f}", dream=f"{point['imagined_return']:.0f}")
            save_agent(path, agent, cfg.task, encoder_meta, step + 1, point, settings, {"history": history})
            save_curves(
                out / "sac_curves.png",
                {"imagined return (model)": history["imagined_return"], "real return (env)": history["real_return"]},
                xlabel=f"evaluation (every {cfg.eval_every} updates)",
                ylabel="episode return",
                title=f"dream-SAC {cfg.task} ({cfg.encoder_folder()})",
            )
            agent.train()
    return finish(cfg, out, env, eval_encoder, agent, model, episode_starts, history, max_u, settings, device)


def periodic_eval(cfg, env, encoder, model, agent, episode_starts, device) -> dict[str, float]:
    agent.eval()
    real = evaluate(
        env,
        encoder,
        SACController(agent, device),
        cfg.eval_episodes_during,
        cfg.eval_episode_steps,
        cfg.seed,
        parallel=cfg.parallel,
        desc="eval (periodic)",
    )
    dreamt = imagined_return(model, agent, episode_starts, cfg.eval_episode_steps)
    return {"real_return": real["mean_return"], "real_success": real["success_rate"], "imagined_return": dreamt}


def finish(cfg, out, env, encoder, agent, model, episode_starts, history, max_u, settings, device) -> dict:
    """Final evaluation of the actor, the expert on the same seeds, sac.json and comparison.md."""
    agent.eval()
    metrics = evaluate(
        env,
        encoder,
        SACController(agent, device),
        cfg.eval_episodes,
        cfg.eval_episode_steps,
        cfg.seed,
        parallel=cfg.parallel,
        gif_path=out / "sac.gif",
        plot_path=out / "sac_eval.png",
        desc="eval dream-SAC",
    )
    # The expert ignores z: evaluate it on the same seeds without paying for a pixel encoder.
    expert = evaluate(
        env,
        StateEncoder(env),
        ExpertController(cfg.expert()),
        cfg.eval_episodes,
        cfg.eval_episode_steps,
        cfg.seed,
        parallel=cfg.parallel,
        desc="eval expert",
    )
    metrics.update(
        step=cfg.updates,
        expert=expert,
        imagined_return=imagined_return(model, agent, episode_starts, cfg.eval_episode_steps),
        uncertainty_threshold=max_u,
        **{f"curve_{k}": v for k, v in history.items()},
    )
    rows = comparison_rows(out, expert, metrics, cfg.encoder_folder())
    metrics["comparison"] = rows
    metrics["config"] = settings["run"]
    write_json(out / "sac.json", metrics)
    write_comparison(out, rows, cfg.task, cfg.probe_folder())
    return metrics


def write_comparison(out: Path, rows: list[dict], task: str, probes: Path) -> None:
    """comparison.md in `out`: the closed-loop table, then the latent's probes found in `probes`
    (the data's, fresh starts') where run."""
    text = comparison_markdown(rows, task)
    for probe in (probe_markdown(read_probe(probes)), probe_markdown(read_probe(probes, (POSE_PROBE_FILE,)))):
        text += f"\n{probe}" if probe else ""
    (out / "comparison.md").write_text(text)
    print(text)


def _finished_metrics(out: Path, cfg: Config) -> dict | None:
    """sac.json of a finished run with this config's final evaluation, if there is one."""
    path = out / "sac.json"
    if not path.exists():
        return None
    try:
        metrics = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    same = metrics.get("step") == cfg.updates and metrics.get("episodes") == cfg.eval_episodes
    return metrics if same and "expert" in metrics else None


def refresh_comparison(cfg: Config, out: Path, metrics: dict) -> dict:
    """Rebuild the table from the saved evaluations (other phases may have run since)."""
    rows = comparison_rows(out, metrics["expert"], metrics, cfg.encoder_folder())
    metrics["comparison"] = rows
    write_json(out / "sac.json", metrics)
    write_comparison(out, rows, cfg.task, cfg.probe_folder())
    return metrics


def _jsonable(fields: dict) -> dict:
    return {k: str(v) if isinstance(v, Path) else v for k, v in fields.items()}


# ---------------------------------------------------------------- Modal (cloud GPUs)

phase = cloud.phase_app("train-robots-dream-sac", Config, main, timeout=6 * 3600)
app = phase.app


if __name__ == "__main__":
    cli.run(main, Config)
