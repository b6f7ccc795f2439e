"""Phase 6: an expert for locomotion — SAC trained online in the real environment on the state.

Walker and cheetah have no scripted expert, so one is learnt: the project's SAC agent
(common/sac.py, without its BC term) acts in the real environment on the proprioceptive
observation and learns from a replay buffer of everything it did. The recipe is the standard
one: uniform random actions for the first `--seed-steps` agent steps, then one update per
agent step (`--updates-per-step`; two on walker, where one left seed 0 in a crouched run),
batch 256, gamma 0.99, Polyak 0.005, lr 3e-4, entropy target -|A|. The observation enters
unnormalised (the agent's fixed mean 0 / std 1; the networks' LayerNorm absorbs the scale of
the velocities). Episodes are the suite's full 1000 control steps (500 agent steps at action
repeat 2); they never terminate, so the last transition of an episode is a time-limit
truncation and bootstraps like every other one.
`--n-step N` makes the critics' targets N-step ones; on walker, 3-step targets did no better
than the seed (ROADMAP, phase 6), so the default stays 1. For walker, expert.json also gives
its `posture`: an upright walk and a crouched run score 950 and 820.

Budgets count environment (control) steps, as published results do: `--env-steps 500000`
is 250k agent steps and, at one update per agent step, 250k updates (walker, at two after the
seed steps: 490k). Reacher keeps its scripted expert; this script trains any task's SAC
expert, but only walker and cheetah use it. The expert always reads the state, whatever
`--encoder` says (the flag is accepted so that every phase takes the same flags).

    python train_robots/train_expert.py --task walker-walk
    modal run train_robots/train_expert.py --task cheetah-run

Writes `<ckpt-dir>/<task>/expert/`: expert.pt (agent, optimisers, replay buffer and random
states, saved at episode boundaries: a rerun resumes there and continues exactly as an
uninterrupted run would; a finished run is reused, `--force` retrains), expert.json (the
learning curve, the final evaluation of `--eval-episodes` full episodes through
rollout.evaluate, wall time and throughput), expert_curve.png, expert_eval.png, expert.gif.
`make_expert(task)` (common/experts.py) then loads expert.pt for data, goals and tables.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from any directory

import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from collections import deque  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from train_robots.common import cli, cloud  # noqa: E402
from train_robots.common.encoders import StateEncoder  # noqa: E402
from train_robots.common.envs import ControlEnv, task_spec  # noqa: E402
from train_robots.common.experts import EXPERT_KIND, agent_id, expert_dir  # noqa: E402
from train_robots.common.presets import Preset, get_preset  # noqa: E402
from train_robots.common.rollout import evaluate  # noqa: E402
from train_robots.common.run_config import RunConfig  # noqa: E402
from train_robots.common.runtime import (  # noqa: E402
    ConfigError,
    episode_seed,
    resolve_device,
    seed_everything,
    write_figure,
    write_json,
)
from train_robots.common.sac import ReplayBuffer, SACAgent, SACConfig, SACController, load_agent, save_agent  # noqa: E402
from train_robots.common.training import check_finite  # noqa: E402

SIZED = (
    "env_steps",
    "episode_steps",
    "seed_steps",
    "hidden",
    "batch_size",
    "n_step",
    "eval_every",
    "eval_episodes_during",
)


@dataclass
class Config(RunConfig):
    env_steps: int | None = None
    """Environment (control) steps of training, a whole number of episodes (default: from the preset;
    cpu and full: 500k = 250k agent steps at action repeat 2)."""
    episode_steps: int | None = None
    """Agent steps per training and evaluation episode (default: from the preset; 500 = the suite's 20 s)."""
    seed_steps: int | None = None
    """Agent steps of uniform random actions before the first update (default: from the preset)."""
    updates_per_step: float | None = None
    """SAC updates per agent step once the seed steps are done, fractions spread out (default: from
    the preset, 1; 2 on walker, where one left seed 0 in a crouched run: ROADMAP, phase 6)."""
    batch_size: int | None = None
    """Transitions per update (default: from the preset)."""
    hidden: int | None = None
    """Width of the actor's and critics' two hidden layers (default: from the preset)."""
    lr: float = 3e-4
    """Adam learning rate of the actor, the critics and the temperature."""
    gamma: float = 0.99
    """Discount of the returns the critics learn."""
    tau: float = 0.005
    """Polyak rate of the target critics."""
    n_step: int | None = None
    """Rewards summed into each critic target before it bootstraps: the target of step t is
    r_t + g r_t+1 + ... + g^(n-1) r_t+n-1 + g^n V(s_t+n), cut short at an episode's end
    (default: from the preset, 1; on walker, 3 measured no better: ROADMAP, phase 6)."""
    init_alpha: float = 0.1
    """Initial entropy temperature (tuned towards the target entropy -|A| from there)."""
    buffer_size: int | None = None
    """Transitions the replay buffer keeps (default: every one of the run)."""
    eval_every: int | None = None
    """Environment steps between periodic evaluations, at episode ends (default: from the preset)."""
    eval_episodes_during: int | None = None
    """Episodes of each periodic evaluation (default: from the preset)."""
    eval_episodes: int | None = None
    """Episodes of the final evaluation, full length (default: the preset's eval_episodes)."""
    save_every: int = 10
    """Episodes between checkpoints (each holds the whole replay buffer: ~56 MB at 250k walker steps)."""
    force: bool = False
    """Retrain from scratch even if a finished or partial expert.pt exists."""

    def sizes(self) -> Preset:
        return get_preset(self.preset, self.task)

    def resolved(self) -> Config:
        """This config with every preset-sized field filled in."""
        p = self.sizes()
        defaults = {
            "env_steps": p.expert_env_steps,
            "episode_steps": p.expert_episode_steps,
            "seed_steps": p.expert_seed_steps,
            "hidden": p.expert_hidden,
            "batch_size": p.expert_batch,
            "n_step": p.expert_n_step,
            "updates_per_step": p.expert_updates_per_step,
            "eval_every": p.expert_eval_every,
            "eval_episodes_during": p.expert_eval_episodes,
            "eval_episodes": p.eval_episodes,
        }
        return replace(self, **{k: v if getattr(self, k) is None else getattr(self, k) for k, v in defaults.items()})

    def validate(self) -> None:
        super().validate()
        for name in (*SIZED, "eval_episodes", "save_every", "buffer_size"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        episode = self.episode_steps * self.action_repeat()
        if self.env_steps % episode:
            raise ConfigError(
                f"--env-steps {self.env_steps} is not a whole number of episodes of {episode} environment steps "
                f"({self.episode_steps} agent steps x action repeat {self.action_repeat()})"
            )
        if not 1 <= self.n_step <= self.episode_steps:
            raise ConfigError(f"--n-step must lie in [1, --episode-steps {self.episode_steps}], got {self.n_step}")
        if not 0.0 < self.updates_per_step <= 64:
            raise ConfigError(f"--updates-per-step must lie in (0, 64], got {self.updates_per_step}")
        if not 0.0 < self.gamma < 1.0 or not 0.0 < self.tau <= 1.0 or self.lr <= 0 or self.init_alpha <= 0:
            raise ConfigError("--gamma must lie in (0, 1), --tau in (0, 1], --lr and --init-alpha above 0")

    def action_repeat(self) -> int:
        return task_spec(self.task).action_repeat

    def agent_steps(self) -> int:
        return self.env_steps // self.action_repeat()

    def training_settings(self) -> dict:
        """What a resumed run must share with the run that wrote expert.pt (--env-steps may grow)."""
        keys = ("task", "seed", "episode_steps", "seed_steps", "updates_per_step", "batch_size", "hidden")
        settings = {k: getattr(self, k) for k in (*keys, "lr", "gamma", "tau", "init_alpha")}
        if self.n_step > 1:  # absent at 1, so experts trained before the flag keep resuming and loading
            settings["n_step"] = self.n_step
        return settings


# ---------------------------------------------------------------- state of a run


@dataclass
class Run:
    """Everything a resumed run continues from (saved at episode boundaries)."""

    agent: SACAgent
    buffer: ReplayBuffer
    sampler: torch.Generator
    """Draws the replay batches."""
    explorer: np.random.Generator
    """Draws the seed steps' uniform random actions."""
    episode: int = 0
    """Training episodes finished."""
    steps: int = 0
    """Agent steps taken."""
    updates: int = 0
    owed: float = 0.0
    """Fractional updates carried over (with --updates-per-step below 1)."""
    history: dict | None = None
    seconds: dict | None = None
    """Wall seconds so far: total, and in acting + physics, updates, evaluations."""
    finished: bool = False

    def env_steps(self, cfg: Config) -> int:
        return self.steps * cfg.action_repeat()


def build_run(cfg: Config, env: ControlEnv, device: torch.device) -> Run:
    """A fresh agent (observation mean 0 / std 1), an empty buffer, seeded random streams."""
    sac = SACConfig(
        latent_dim=env.obs_dim,
        action_dim=env.action_dim,
        hidden=cfg.hidden,
        actor_lr=cfg.lr,
        critic_lr=cfg.lr,
        alpha_lr=cfg.lr,
        gamma=cfg.gamma,
        tau=cfg.tau,
        init_alpha=cfg.init_alpha,
    )
    agent = SACAgent(sac, np.zeros(env.obs_dim), np.ones(env.obs_dim), env.action_low, env.action_high).to(device)
    capacity = cfg.buffer_size or cfg.agent_steps()
    return Run(
        agent=agent,
        buffer=ReplayBuffer(capacity, env.obs_dim, env.action_dim, device),
        sampler=torch.Generator().manual_seed(cfg.seed),
        explorer=np.random.default_rng([cfg.seed, 2]),
        history={"eval_env_steps": [], "eval_return": [], "eval_std": [], "train_env_steps": [], "train_return": []},
        seconds={"total": 0.0, "acting": 0.0, "updates": 0.0, "evaluation": 0.0},
    )


def save_run(path: Path, cfg: Config, run: Run, env: ControlEnv, metrics: dict) -> None:
    """expert.pt: the agent in the project's SAC checkpoint format, plus what resuming needs."""
    config = {
        "env_steps": cfg.env_steps,
        "training": cfg.training_settings(),
        "run": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
    }
    extra = {
        "finished": run.finished,
        "episode": run.episode,
        "steps": run.steps,
        "updates": run.updates,
        "owed": run.owed,
        "history": run.history,
        "seconds": run.seconds,
        "buffer": run.buffer.state_dict(),
        "rng": {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "sampler": run.sampler.get_state(),
            "explorer": run.explorer.bit_generator.state,
        },
    }
    encoder = StateEncoder(env).info.to_dict()
    save_agent(path, run.agent, cfg.task, encoder, run.env_steps(cfg), metrics, config, extra, kind=EXPERT_KIND)


def resume_or_start(cfg: Config, path: Path, env: ControlEnv, device: torch.device) -> Run:
    """The run saved in expert.pt when it exists and matches this config (and not --force), else a fresh one."""
    run = build_run(cfg, env, device)
    if cfg.force or not path.exists():
        return run
    agent, payload = load_agent(path, encoder=StateEncoder(env).info.to_dict(), task=cfg.task, kind=EXPERT_KIND)
    saved = payload["config"]["training"]
    diffs = {k: (saved.get(k), v) for k, v in cfg.training_settings().items() if saved.get(k) != v}
    if diffs:
        listed = ", ".join(f"{k}: saved {a!r}, now {b!r}" for k, (a, b) in diffs.items())
        raise ConfigError(
            f"{path} was trained with other settings ({listed}); rerun with those, or pass --force to retrain"
        )
    if payload["step"] > cfg.env_steps:
        raise ConfigError(f"{path} has trained {payload['step']} env steps, more than --env-steps {cfg.env_steps}")
    run.agent = agent.to(device)
    run.buffer.load_state_dict(payload["buffer"])
    rng = payload["rng"]
    torch.set_rng_state(rng["torch"])
    if rng["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    run.sampler.set_state(rng["sampler"])
    run.explorer.bit_generator.state = rng["explorer"]
    for key in ("episode", "steps", "updates", "owed", "history", "seconds", "finished"):
        setattr(run, key, payload[key])
    run.finished = run.finished and payload["step"] == cfg.env_steps
    print(f"resuming {path} at env step {payload['step']} ({run.updates} updates)")
    return run


# ---------------------------------------------------------------- training


def train_episode(cfg: Config, run: Run, env: ControlEnv, device: torch.device) -> float:
    """One training episode: act (random during the seed steps), store, update; returns its return."""
    env.reset(episode_seed(cfg.seed, run.episode, "expert"))
    obs = torch.as_tensor(env.observation(), device=device)
    # (observation, action, reward, discount) of the steps whose n-step target is not complete yet
    pending: deque[tuple[torch.Tensor, torch.Tensor, float, float]] = deque()
    total = 0.0
    for _ in range(cfg.episode_steps):
        started = time.perf_counter()
        if run.steps < cfg.seed_steps:
            action = torch.as_tensor(run.explorer.uniform(env.action_low, env.action_high), dtype=torch.float32)
        else:
            with torch.no_grad():
                action = run.agent.act(obs[None])[0].cpu()
        result = env.step(action.numpy())
        next_obs = torch.as_tensor(env.observation(), device=device)
        pending.append((obs, action, result.reward, result.discount))
        if len(pending) == cfg.n_step:
            run.buffer.add(n_step_transition(pending, next_obs, cfg.gamma))
            pending.popleft()
        obs, total, run.steps = next_obs, total + result.reward, run.steps + 1
        run.seconds["acting"] += time.perf_counter() - started
        update(cfg, run)
    # The episode's end is a time limit, not a terminal state (the suite never terminates these
    # tasks): its last steps bootstrap from the last observation, over fewer than n rewards.
    while pending:
        run.buffer.add(n_step_transition(pending, obs, cfg.gamma))
        pending.popleft()
    run.episode += 1
    return total


def n_step_transition(
    steps: deque[tuple[torch.Tensor, torch.Tensor, float, float]], next_obs: torch.Tensor, gamma: float
) -> dict[str, torch.Tensor]:
    """The replay transition of the oldest of `steps`: its summed, discounted rewards to `next_obs`, and
    the factor that makes SAC's target reward + gamma * discount * V(next) an m-step one (m = len(steps)):
    discount = gamma^(m-1) times the environment's discounts on the way (1 for these tasks)."""
    reward, factor = 0.0, 1.0
    for i, (_, _, r, d) in enumerate(steps):
        reward += factor * r
        factor *= d if i == len(steps) - 1 else gamma * d
    obs, action = steps[0][0], steps[0][1]
    return {
        "z": obs[None],
        "action": action[None],
        "reward": torch.tensor([reward]),
        "next_z": next_obs[None],
        "discount": torch.tensor([factor]),
    }


def update(cfg: Config, run: Run) -> None:
    """The updates owed after one more agent step (none before the seed steps are done)."""
    if run.steps <= cfg.seed_steps or len(run.buffer) < cfg.batch_size:  # the first follows a policy step
        return
    started = time.perf_counter()
    run.owed += cfg.updates_per_step
    while run.owed >= 1.0:
        losses = run.agent.update(run.buffer.sample(cfg.batch_size, run.sampler))
        check_finite(losses["critic_loss"] + losses["actor_loss"], run.updates, "replay")
        run.updates += 1
        run.owed -= 1.0
    run.seconds["updates"] += time.perf_counter() - started


def periodic_eval(cfg: Config, run: Run, env: ControlEnv, device: torch.device) -> dict:
    """The deterministic actor on `--eval-episodes-during` evaluation episodes: a point of the curve."""
    started = time.perf_counter()
    metrics = evaluate(
        env,
        StateEncoder(env),
        SACController(run.agent, device),
        cfg.eval_episodes_during,
        cfg.episode_steps,
        cfg.seed,
        desc="eval (periodic)",
    )
    run.agent.train()
    run.history["eval_env_steps"].append(run.env_steps(cfg))
    run.history["eval_return"].append(metrics["mean_return"])
    run.history["eval_std"].append(metrics["std_return"])
    run.seconds["evaluation"] += time.perf_counter() - started
    return {"eval_return": metrics["mean_return"], "eval_std": metrics["std_return"]}


def train(cfg: Config, run: Run, env: ControlEnv, path: Path, device: torch.device) -> None:
    """Episodes until --env-steps, evaluating every --eval-every env steps and saving every --save-every
    episodes (and at the end); the bar shows the last training and evaluation returns."""
    total_episodes = cfg.agent_steps() // cfg.episode_steps
    repeat = cfg.action_repeat()
    progress = tqdm(total=cfg.env_steps, initial=run.env_steps(cfg), desc=f"expert {cfg.task}", unit="env step")
    point: dict = {}
    clock = time.perf_counter()
    while run.episode < total_episodes:
        before = run.env_steps(cfg)
        episode_return = train_episode(cfg, run, env, device)
        run.history["train_env_steps"].append(run.env_steps(cfg))
        run.history["train_return"].append(episode_return)
        progress.update(cfg.episode_steps * repeat)
        if run.env_steps(cfg) // cfg.eval_every > before // cfg.eval_every or run.episode == total_episodes:
            point = periodic_eval(cfg, run, env, device)
        now = time.perf_counter()
        run.seconds["total"] += now - clock
        clock = now
        progress.set_postfix(
            ret=f"{episode_return:.0f}",
            eval=f"{point.get('eval_return', float('nan')):.0f}",
            upd_s=f"{run.updates / max(run.seconds['updates'], 1e-9):.0f}",
        )
        if run.episode % cfg.save_every == 0 or run.episode == total_episodes:
            save_run(path, cfg, run, env, {"train_return": episode_return, **point})
            clock = time.perf_counter()  # saving is bookkeeping, not training
    progress.close()


STAND_HEIGHT = 1.2
"""Walker's reward wants the torso at least this high (m; dm_control's walker.py)."""


@torch.inference_mode()
def walker_posture(cfg: Config, agent: SACAgent, env: ControlEnv, seeds: list[int], skip: int = 25) -> dict:
    """How the deterministic expert walks, after its first `skip` agent steps (getting up): torso height
    and forward speed after each agent step. An upright walk and a crouched run both cover the ground
    (the reward wants >= 1 m/s), but only the first keeps the torso at walker's stand height."""
    heights, speeds = [], []
    for seed in seeds:
        env.reset(seed)
        for step in range(cfg.episode_steps):
            obs = torch.as_tensor(env.observation()[None]).to(agent.z_mean)
            env.step(agent.act(obs, deterministic=True)[0].cpu().numpy())
            if step >= skip:
                heights.append(float(env.physics.torso_height()))
                speeds.append(float(env.physics.horizontal_velocity()))
    height, speed = np.asarray(heights), np.asarray(speeds)
    return {
        "episodes": len(seeds),
        "torso_height_mean": float(height.mean()),
        "torso_height_min": float(height.min()),
        "share_at_stand_height": float((height >= STAND_HEIGHT).mean()),
        "speed_mean": float(speed.mean()),
    }


def finish(cfg: Config, run: Run, env: ControlEnv, out: Path, device: torch.device) -> dict:
    """The final evaluation (full episodes, evaluation seeds) and expert.json's content."""
    final = evaluate(
        env,
        StateEncoder(env),
        SACController(run.agent, device),
        cfg.eval_episodes,
        cfg.episode_steps,
        cfg.seed,
        gif_path=out / "expert.gif",
        plot_path=out / "expert_eval.png",
        desc="eval expert",
    )
    seconds = run.seconds
    if cfg.task.startswith("walker-"):
        final["posture"] = walker_posture(cfg, run.agent, env, final["seeds"][:5])
    return {
        **final,
        "task": cfg.task,
        "expert_id": agent_id(run.agent),
        "env_steps": run.env_steps(cfg),
        "agent_steps": run.steps,
        "action_repeat": cfg.action_repeat(),
        "updates": run.updates,
        "train_seconds": seconds["total"],
        "seconds": seconds,
        "env_steps_per_second": run.env_steps(cfg) / max(seconds["total"], 1e-9),
        "updates_per_second": run.updates / max(seconds["updates"], 1e-9),
        "acting_ms_per_agent_step": 1000 * seconds["acting"] / max(run.steps, 1),
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "device": str(device),
        "curve": run.history,
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
    }


def save_learning_curve(path: Path, history: dict, title: str) -> None:
    """Evaluation return (mean ± std) and training episode returns against environment steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(history["train_env_steps"], history["train_return"], color="tab:gray", alpha=0.5, label="training episode")
    x, mean, std = (np.asarray(history[k]) for k in ("eval_env_steps", "eval_return", "eval_std"))
    ax.plot(x, mean, color="tab:blue", marker="o", markersize=3, label="evaluation (deterministic)")
    ax.fill_between(x, mean - std, mean + std, color="tab:blue", alpha=0.2)
    ax.set(xlabel="environment steps", ylabel="episode return", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    write_figure(path, fig)


def finished_metrics(out: Path, run: Run, cfg: Config) -> dict | None:
    """expert.json of this finished run (same expert, same final evaluation), if there is one."""
    path = out / "expert.json"
    if not run.finished or not path.exists():
        return None
    try:
        metrics = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    same = metrics.get("expert_id") == agent_id(run.agent) and metrics.get("episodes") == cfg.eval_episodes
    return metrics if same else None


def main(cfg: Config) -> dict:
    """Train (or resume, or reuse) the task's expert and evaluate it; returns expert.json's content."""
    cfg = cfg.resolved()
    cfg.validate()
    device = resolve_device(cfg.device)
    seed_everything(cfg.seed)
    env = ControlEnv(cfg.task)
    out = expert_dir(cfg.ckpt_dir, cfg.task)
    path = out / "expert.pt"
    run = resume_or_start(cfg, path, env, device)
    if (metrics := finished_metrics(out, run, cfg)) is not None:
        print(f"{path} is trained ({run.env_steps(cfg)} env steps) and evaluated: {metrics['mean_return']:.1f}")
        return metrics
    print(
        f"SAC expert for {cfg.task}: {cfg.env_steps} env steps = {cfg.agent_steps()} agent steps, "
        f"{cfg.updates_per_step:g} update(s) per agent step after {cfg.seed_steps} random ones, on {device}"
    )
    train(cfg, run, env, path, device)
    metrics = finish(cfg, run, env, out, device)
    run.finished = True
    save_run(path, cfg, run, env, {"mean_return": metrics["mean_return"], "std_return": metrics["std_return"]})
    write_json(out / "expert.json", metrics)
    save_learning_curve(out / "expert_curve.png", run.history, f"SAC expert, {cfg.task} (state)")
    if posture := metrics.get("posture"):
        print(
            f"posture: torso {posture['torso_height_mean']:.2f} m (min {posture['torso_height_min']:.2f}, "
            f"{posture['share_at_stand_height']:.0%} of steps at >= {STAND_HEIGHT} m), {posture['speed_mean']:.2f} m/s"
        )
    print(
        f"expert {cfg.task}: return {metrics['mean_return']:.1f} ± {metrics['std_return']:.1f} over "
        f"{metrics['episodes']} episodes; {metrics['train_seconds'] / 60:.1f} min, "
        f"{metrics['env_steps_per_second']:.0f} env steps/s, {metrics['updates_per_second']:.0f} updates/s "
        f"-> {out / 'expert.json'}"
    )
    return metrics


# ---------------------------------------------------------------- Modal (cloud GPUs)


def report(cfg: Config, metrics: dict) -> None:
    """The flat figures of expert.json, and how to fetch the expert from the volume."""
    print(json.dumps({k: v for k, v in metrics.items() if isinstance(v, int | float | str | bool)}, indent=2))
    print(
        f"files: `modal volume get {cloud.DATA_VOLUME} checkpoints/{cfg.task}/expert ./checkpoints/{cfg.task}/` "
        "fetches them"
    )


phase = cloud.phase_app("train-robots-expert", Config, main, timeout=12 * 3600, report=report)
app = phase.app


if __name__ == "__main__":
    cli.run(main, Config)
