"""Phases 4 and 4b: plan by imagining. Model-predictive control in latent space toward a goal image.

At each evaluation episode's start, the expert is run on a copy of the physics until the
task is solved; that moment is encoded as the goal latent and the start state restored
(train_robots/common/goals.py). Then, every `--replan-every` steps, a sampling planner
(random shooting, CEM or MPPI; train_robots/common/planners.py) imagines `--samples`
action sequences `--horizon` steps ahead with the trained world model (dynamics.pt) and
executes the first action(s) of the one whose imagined latent ends closest to the goal.
The encoder is in the loop: the planner sees only latents of what the robot observes.

Writes to `<ckpt-dir>/<task>/<encoder>/`:
    mpc_<planner>.json           evaluation metrics (success_rate, mean_return, ms_per_action, ...)
                                 + the planner settings + goal and model-error figures
    mpc_<planner>_goal.png       the first episode's goal frame
    mpc_<planner>_planning.png   planning cost over iterations; latent distance to the goal
                                 along the first episode, real vs imagined
    mpc_<planner>_returns.png    return per episode

    python train_robots/mpc_planner.py --task reacher-easy --encoder state --preset cpu --planner cem
    python train_robots/mpc_planner.py --encoder state --preset cpu --planner random
    python train_robots/mpc_planner.py --encoder vjepa2-random --preset cpu --planner mppi --episodes 10
    modal run train_robots/mpc_planner.py --encoder vjepa2 --preset full --planner cem

Needs the world model of the same task and encoder: run train_dynamics.py first. A rerun
with the same settings and the same dynamics.pt reuses the finished metrics (--force
evaluates again); files are written atomically.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from any directory

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tyro.conf import OmitArgPrefixes  # noqa: E402

from train_robots.common import cli, cloud  # noqa: E402
from train_robots.common.checkpoint import load_checkpoint  # noqa: E402
from train_robots.common.data import DEFAULT_SCRIPTED_EXPERT  # noqa: E402
from train_robots.common.envs import ControlEnv, TaskSpec, task_spec  # noqa: E402
from train_robots.common.experts import Expert  # noqa: E402
from train_robots.common.planner_controller import EpisodeTrace, PlannerController  # noqa: E402
from train_robots.common.planners import Planner, PlannerConfig  # noqa: E402
from train_robots.common.presets import Preset, get_preset, sizes_for  # noqa: E402
from train_robots.common.rollout import episodes_in_parallel, evaluate, format_success  # noqa: E402
from train_robots.common.run_config import RunConfig  # noqa: E402
from train_robots.common.runtime import (  # noqa: E402
    ConfigError,
    UserError,
    atomic_write_bytes,
    code_version,
    resolve_device,
    seed_everything,
    write_figure,
    write_json,
)
from train_robots.common.sac import SACAgent, load_agent  # noqa: E402
from train_robots.common.world_model import load_world_model  # noqa: E402

PRIOR_SHARE = {"goal": 2, "reward": 2}
"""By default one in PRIOR_SHARE[objective] of the planner's samples comes from dream-SAC's actor.
Maximising the learned reward it must carry the search (walker CEM: 362 with 25 of 500 actor
samples, 790 with 250); toward a goal image it leads the arm out of traps the goal distance cannot
see past (reacher: the elbow's short way to the goal crosses its limit), until --handover."""

HORIZON = {"goal": 40, "reward": 10}
"""Default agent steps imagined ahead per objective. Toward a goal image a 40-step window shows
where the actor's detour ends (seed 1's trapped episodes: missed at 20 steps, solved at 40 with
the actor's samples); maximising the learned reward, dream-SAC's critic sees past the horizon."""

HANDOVER, HOLD_HORIZON = 0.5, 20
"""Toward a goal image, by default: once the goal distance is below half of the episode's first,
no more actor samples and a 20-step goal distance, which hold the goal pose. Reacher, full
episodes, seeds 0 / 1 / 2: 98% solved on each, 80 / 74 / 54% of goal poses held at the end;
the earlier default (20 steps, 25 actor samples) solved 98 / 94 / 98% and held 64 / 68 / 60%;
the actor and 40 steps without the handover held 6 / 10 / 2% at step 120."""

POSE_HELD_RAD = 0.1
"""A goal pose counts as held when the episode ends within this mean joint-angle error."""


@dataclass
class PlannerFlags(PlannerConfig):
    """The planner (train_robots/common/planners.py); its sizes default to the preset's."""

    samples: int | None = None
    """Action sequences imagined per planning iteration (default: from the preset; 1000 on full, 500 on
    cpu, 100 on cpu with vjepa2-task)."""
    iterations: int | None = None
    """Sampling rounds per plan (default: from the preset; 5, 3 on cpu with vjepa2-task)."""
    elites: int | None = None
    """CEM: the cheapest sequences that refit the sampling distribution (default: from the preset; 64,
    16 on cpu with vjepa2-task)."""
    replan_every: int | None = None
    """Agent steps between plans (receding horizon; default: from the preset, 1 on full)."""
    objective: str | None = None
    """goal: reach the expert's goal image; reward: maximise the learned reward (default: goal
    where the task's expert ends in a goal pose, reacher; reward on walker and cheetah)."""
    value: bool | None = None
    """True / False: bootstrap the reward term with dream-SAC's critic (default: True with
    --objective reward, where it lifts cheetah CEM from 122 to 459; False with goal, where the
    search exploits the critic and reacher's return fell from 918 to 767)."""
    prior_samples: int | None = None
    """Samples from dream-SAC's actor per iteration (default: half of --samples; 0: none)."""
    horizon: int | None = None
    """Agent steps imagined ahead (default: 40 toward a goal image, 10 with --objective reward)."""
    handover: float | None = None
    """Below this fraction of the episode's first goal distance, plan without the actor's samples
    (default: 0.5 toward a goal image with actor samples; 0: never)."""
    hold_horizon: int | None = None
    """Past --handover, read the goal distance over this many imagined steps (default: 20, or
    --horizon if shorter, where a handover is on)."""
    hold_samples: int | None = None
    """Past --handover, imagine only this many of each iteration's samples (default: from the
    preset where a handover is on, 100 of 500 on cpu; 0: all)."""

    def sized(self, preset: Preset, task: TaskSpec) -> PlannerConfig:
        """The planner's config, with the preset's sizes and the task's objective (and with it
        the value's use) where no flag set them."""
        chosen = {k: v for k, v in asdict(self).items() if v is not None}
        samples = chosen.get("samples", preset.plan_samples)
        objective = chosen.get("objective", "goal" if task.goal_images else "reward")
        defaults = {
            "samples": samples,
            "iterations": preset.plan_iterations,
            "elites": preset.plan_elites,
            "replan_every": preset.plan_replan_every,
            "objective": objective,
            "value": objective == "reward",
            "prior_samples": min(samples // PRIOR_SHARE[objective], samples - 2),
            "horizon": HORIZON[objective],
        }
        found = {**defaults, **chosen}
        handover = HANDOVER if objective == "goal" and found["prior_samples"] else 0.0
        found["handover"] = chosen.get("handover", handover)
        found["hold_horizon"] = chosen.get(
            "hold_horizon", min(HOLD_HORIZON, found["horizon"]) if found["handover"] else 0
        )
        hold_samples = min(preset.plan_hold_samples, found["samples"]) if found["handover"] else 0
        found["hold_samples"] = chosen.get("hold_samples", hold_samples)
        return PlannerConfig(**found)


@dataclass
class Config(RunConfig):
    planning: OmitArgPrefixes[PlannerFlags] = field(default_factory=PlannerFlags)
    """What the planner imagines and how it scores it (its flags carry no prefix: --samples, --cost, ...)."""
    goal_settle_steps: int = 0
    """Let the expert run this many more steps inside the target before the goal frame is taken."""
    goal_at_rest: bool = True
    """Zero the goal moment's joint velocities (a goal is a pose; matters for --encoder state)."""
    goal_source: str = "expert"
    """expert: the expert's "solved" moment (the task's goal); pose: a random reachable pose, to
    measure whether the planner reaches and holds any pose it is shown (goal_pose_error_* figures)."""
    episodes: int | None = None
    """Evaluation episodes (default: from the preset)."""
    episode_steps: int | None = None
    """Agent steps per evaluation episode (default: from the preset)."""
    first_episode: int = 0
    """Start at this evaluation episode of the seed: --first-episode 43 --episodes 1 replays episode
    43 of a 50-episode run alone (its start, goal and plans are the same as in the full run), into
    mpc_<planner>_from43.json unless --name says otherwise."""
    parallel: int | None = None
    """Evaluation episodes run in lockstep, planned in one batch (default: all that fit in memory)."""
    gif: bool = False
    """Also write the first episode as mpc_<planner>.gif."""
    force: bool = False
    """Evaluate again even if mpc_<planner>.json of these settings and this model exists."""

    dynamics: Path | None = None
    """The world model to imagine with (default: <ckpt-dir>/<task>/<encoder>/dynamics.pt); the outputs stay
    in <ckpt-dir>/<task>/<encoder>/, so name a variant's with --name."""
    sac: Path | None = None
    """The dream-SAC agent lending --value and --prior-samples (default: <ckpt-dir>/<task>/<encoder>/sac.pt)."""
    name: str | None = None
    """Name of the outputs (default: mpc_<planner>), e.g. to keep a variant beside the default."""

    def on_volume(self) -> Config:
        # --dynamics and --sac name files here, not on the volume: there, the defaults.
        return replace(super().on_volume(), dynamics=None, sac=None)

    def planner_config(self) -> PlannerConfig:
        return self.planning.sized(sizes_for(self.preset, self.task, self.encoder), task_spec(self.task))

    def stem(self) -> str:
        """Outputs' name: --name, else mpc_<planner>; a replay from --first-episode K gets _from<K>
        appended, so it never replaces the full run it replays."""
        if self.name:
            return self.name
        return f"mpc_{self.planning.planner}" + (f"_from{self.first_episode}" if self.first_episode else "")

    def sac_path(self) -> Path:
        return self.sac or self.checkpoint_folder() / "sac.pt"

    def sizes(self) -> tuple[int, int]:
        """(episodes, episode_steps) of the evaluation."""
        preset = get_preset(self.preset, self.task)
        episodes = preset.eval_episodes if self.episodes is None else self.episodes
        steps = preset.eval_episode_steps if self.episode_steps is None else self.episode_steps
        return episodes, steps

    def validate(self) -> None:
        super().validate()
        self.planner_config().validate()
        episodes, steps = self.sizes()
        if episodes < 1 or steps < 1:
            raise ConfigError(f"--episodes and --episode-steps must be at least 1, got {episodes}, {steps}")
        if self.first_episode < 0:
            raise ConfigError(f"--first-episode must be >= 0, got {self.first_episode}")
        if self.goal_settle_steps < 0:
            raise ConfigError(f"--goal-settle-steps must be >= 0, got {self.goal_settle_steps}")
        self._check_objective()

    def _check_objective(self) -> None:
        """Goal-image flags need a task with goal images and the goal objective."""
        plan = self.planner_config()
        if plan.objective == "goal" and not task_spec(self.task).goal_images:
            raise ConfigError(
                f"--objective goal needs a task whose expert ends in a goal pose (reacher-easy); {self.task} has "
                "none: use --objective reward (the default for it)"
            )
        if plan.objective == "reward":
            defaults = PlannerConfig()
            goal_flags = [
                f"--{name.replace('_', '-')}"
                for name in ("cost", "cost_at", "cost_units")
                if getattr(plan, name) != getattr(defaults, name)
            ]
            goal_flags += ["--goal-settle-steps"] if self.goal_settle_steps else []
            goal_flags += ["--no-goal-at-rest"] if not self.goal_at_rest else []
            goal_flags += ["--goal-source"] if self.goal_source != "expert" else []
            if goal_flags:
                raise ConfigError(
                    f"{', '.join(goal_flags)} set a goal-image cost, which --objective reward ({self.task}) has not"
                )


def settings(cfg: Config, dynamics: Path) -> dict:
    """Everything that determines the result; a rerun with equal settings reuses it."""
    episodes, steps = cfg.sizes()
    keep = ("task", "encoder", "encoder_id", "preset", "goal_settle_steps", "goal_at_rest", "goal_source", "seed")
    plan = cfg.planner_config()
    found = {
        **plan.to_dict(),
        **{k: getattr(cfg, k) for k in keep},
        "episodes": episodes,
        "episode_steps": steps,
        "dynamics_sha256": _digest(dynamics),
    }
    if cfg.first_episode:  # only when set, so results from before the flag keep their settings
        found["first_episode"] = cfg.first_episode
    if cfg.expert_velocity_gain is not None:  # likewise: the goals' expert
        found["expert_velocity_gain"] = cfg.expert_velocity_gain
    for name in ("handover", "hold_horizon", "hold_samples", "action_penalty"):  # likewise
        if not found[name]:
            del found[name]
    if plan.value or plan.prior_samples:
        found["sac_sha256"] = _digest(cfg.sac_path())
    return found


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def load_guide(cfg: Config, encoder: dict, device: torch.device) -> SACAgent | None:
    """The dream-SAC agent for --value / --prior-samples (None when neither is asked for)."""
    plan = cfg.planner_config()
    if not (plan.value or plan.prior_samples):
        return None
    path = cfg.sac_path()
    if not path.exists():
        raise UserError(
            f"{path}: not found; --value and --prior-samples use dream-SAC's critic and actor: run "
            f"`python train_robots/train_dream_sac.py --task {cfg.task} {cfg.encoder_flags()} --preset {cfg.preset}` first"
        )
    agent, _ = load_agent(path, encoder=encoder, task=cfg.task, with_optimizer=False)
    return agent.to(device).eval()


def dynamics_path(cfg: Config) -> Path:
    path = cfg.dynamics or cfg.checkpoint_folder() / "dynamics.pt"
    if cfg.dynamics is not None and not path.is_file():
        raise UserError(f"--dynamics {path}: no such file; give a world model written by train_dynamics.py")
    if not path.exists():
        raise UserError(
            f"{path}: not found; run train_dynamics.py first, e.g. `python train_robots/train_dynamics.py "
            f"--task {cfg.task} {cfg.encoder_flags()} --preset {cfg.preset} --ckpt-dir {cfg.ckpt_dir}`"
        )
    return path


def other_expert_note(path: Path, goals_expert: Expert) -> str | None:
    """A note when the goal images come from another expert than the one whose data the world model
    learnt from (allowed, and sometimes the experiment: the goals then show poses the model's data
    shows less often), else None."""
    train = load_checkpoint(path, "dynamics")["config"].get("train", {})
    data_expert = train.get("data_expert", DEFAULT_SCRIPTED_EXPERT)  # identities name only another expert
    if data_expert == goals_expert.id:
        return None
    return f"note: the goal images come from {goals_expert.id}; {path} records learning from {data_expert}'s data"


def main(cfg: Config) -> dict:
    """Evaluate the planner of `cfg` in the real environment; returns the metrics written."""
    cfg.validate()
    path = dynamics_path(cfg)
    out_dir = cfg.checkpoint_folder()
    stem = cfg.stem()
    if cfg.planner_config().value or cfg.planner_config().prior_samples:
        load_guide(cfg, {}, torch.device("cpu"))  # a missing sac.pt is named before any work
    wanted = settings(cfg, path)
    previous = _finished(out_dir / f"{stem}.json", wanted)
    if previous is not None and not cfg.force:
        print(f"{out_dir / stem}.json: already evaluated with these settings and this model (--force redoes it)")
        return previous

    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    env = ControlEnv(cfg.task)
    encoder = cfg.build_encoder(env, get_preset(cfg.preset, cfg.task), device)
    model = load_world_model(path, encoder=encoder.info.to_dict(), task=cfg.task).to(device)
    planner = Planner(
        model,
        cfg.planner_config(),
        env.action_low,
        env.action_high,
        seed=cfg.seed,
        device=device,
        goal_dims=encoder.goal_dims,
        agent=load_guide(cfg, encoder.info.to_dict(), device),
    )
    goals_expert = cfg.expert() if planner.cfg.objective == "goal" and cfg.goal_source == "expert" else None
    if goals_expert is not None and (note := other_expert_note(path, goals_expert)):
        print(note)
    controller = PlannerController(
        planner,
        encoder,
        goal_settle_steps=cfg.goal_settle_steps,
        goal_at_rest=cfg.goal_at_rest,
        goal_source=cfg.goal_source,
        expert=goals_expert,
    )
    episodes, steps = cfg.sizes()
    parallel = episodes_in_parallel(cfg.parallel, episodes, planner.bytes_per_problem(), device)
    plan = planner.cfg
    print(
        f"{plan.planner} on {cfg.task} / {cfg.encoder_folder()} (D={encoder.info.dim}): {plan.samples} samples x "
        f"{plan.horizon} steps x {plan.iterations} iterations, a plan every {plan.replan_every} steps, "
        f"{planner.precision}, {device}, {parallel} episodes at a time"
    )
    if plan.prior_samples:
        handover = (
            f"; below {plan.handover:g} of its first goal distance an episode plans without them, over "
            f"{plan.hold_horizon or plan.horizon} steps"
            if plan.handover
            else ""
        )
        print(f"  {plan.prior_samples} of the samples from dream-SAC's actor{handover}")
    metrics = evaluate(
        env,
        encoder,
        controller,
        episodes,
        steps,
        cfg.seed,
        parallel=parallel,
        gif_path=out_dir / f"{stem}.gif" if cfg.gif else None,
        plot_path=out_dir / f"{stem}_returns.png",
        desc=f"mpc {cfg.planning.planner}",
        first_episode=cfg.first_episode,
    )
    traces = controller.traces
    metrics.update(planning_figures(traces))
    metrics.update(
        planner=cfg.planning.planner,
        task=cfg.task,
        encoder_id=encoder.info.id,
        latent_dim=encoder.info.dim,
        precision=planner.precision,
        device=str(device),
        dynamics=str(path),
        world_model=asdict(model.cfg),
        settings=wanted,
        code_version=code_version(),
    )
    if controller.uses_goals:
        _save_png(out_dir / f"{stem}_goal.png", controller.goals[0].frame)
        imagined = open_loop_distance(planner, traces[0], controller.goals[0].z)
        plot_planning(out_dir / f"{stem}_planning.png", traces[0], imagined, planner.cfg)
    write_json(out_dir / f"{stem}.json", metrics)
    print(
        f"{stem}: success {format_success(metrics['success_rate'])}, return {metrics['mean_return']:.1f} "
        f"+- {metrics['std_return']:.1f}, {metrics['ms_per_action']:.1f} ms/action ({metrics['ms_per_batch']:.1f} ms "
        f"per batch of {parallel}) -> {out_dir / stem}.json"
    )
    if metrics["missed_episodes"]:
        print(f"missed episodes {metrics['missed_episodes']} (replay one alone: --first-episode K --episodes 1)")
    return metrics


def _finished(path: Path, wanted: dict) -> dict | None:
    if not path.exists():
        return None
    try:
        previous = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return previous if previous.get("settings") == wanted else None


def planning_figures(traces: list[EpisodeTrace]) -> dict:
    """Goal, planning and model-error figures over all episodes (flat, for the json)."""
    best = np.concatenate([np.asarray(t.best_cost) for t in traces])  # [plans, iterations]
    mean = np.concatenate([np.asarray(t.mean_cost) for t in traces])
    # The plan in force predicted the distance after each action; compare with what was then observed.
    one_step = [
        np.abs(np.asarray(t.imagined_distance[:-1]) - np.asarray(t.real_distance[1:]))
        for t in traces
        if len(t.real_distance) > 1
    ]
    figures = {
        "plans": int(best.shape[0]),
        "ms_per_plan": 1000.0 * float(np.mean(np.concatenate([t.plan_seconds for t in traces]))),
        "plans_past_handover": float(np.mean(np.concatenate([t.holding for t in traces]))),
        "planning_best_cost_per_iteration": best.mean(0).tolist(),
        "planning_mean_cost_per_iteration": mean.mean(0).tolist(),
    }
    if not traces[0].real_distance:  # --objective reward: no goal to measure against
        return figures
    return {
        **figures,
        "goal_steps_mean": float(np.mean([t.goal_steps for t in traces])),
        "goal_distance_start": float(np.mean([t.real_distance[0] for t in traces])),
        "goal_distance_min": float(np.mean([min(t.real_distance) for t in traces])),
        "goal_distance_end": float(np.mean([t.real_distance[-1] for t in traces])),
        "imagined_distance_error_1step": float(np.mean(np.concatenate(one_step))) if one_step else float("nan"),
        **pose_figures(traces),
    }


def pose_figures(traces: list[EpisodeTrace]) -> dict:
    """How close the arm came to the goal's pose and whether it stayed (mean joint-angle error, rad)."""
    end = np.array([t.pose_error[-1] for t in traces])
    closest = np.array([min(t.pose_error) for t in traces])
    return {
        "goal_pose_error_end_median": float(np.median(end)),
        "goal_pose_error_end_mean": float(np.mean(end)),
        "goal_pose_error_min_median": float(np.median(closest)),
        "goal_pose_held_fraction": float(np.mean(end < POSE_HELD_RAD)),
    }


@torch.inference_mode()
def open_loop_distance(planner: Planner, trace: EpisodeTrace, z_goal: np.ndarray) -> np.ndarray:
    """Goal distance along the episode as the world model imagines it from the first latent
    alone, fed the actions actually taken (how far imagination drifts from reality)."""
    model, device = planner.model, planner.device
    z0 = torch.as_tensor(trace.latents[0], device=device)[None]
    actions = torch.as_tensor(np.stack(trace.actions), device=device)[None]
    z = model.rollout(z0, actions)["z"][0]  # [T, D]: after each action
    return np.concatenate([[trace.real_distance[0]], planner.distance(z.cpu().numpy(), z_goal[None])[:-1]])


def plot_planning(path: Path, trace: EpisodeTrace, open_loop: np.ndarray, plan: PlannerConfig) -> None:
    """Left: cost per planning iteration (mean over the first episode's plans). Right: latent
    distance to the goal along the first episode: real, one step ahead by the plan, open loop."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    iterations = np.arange(1, len(trace.best_cost[0]) + 1)
    left.plot(iterations, np.mean(trace.best_cost, 0), "o-", label="best sample")
    left.plot(iterations, np.mean(trace.mean_cost, 0), "s--", label="mean of samples")
    left.set(xlabel="iteration", ylabel=f"{plan.cost} cost", title=f"{plan.planner}: planning cost (first episode)")
    left.set_xticks(iterations)
    left.legend()
    steps = np.arange(len(trace.real_distance))
    right.plot(steps, trace.real_distance, label="real", color="black")
    right.plot(steps[1:], trace.imagined_distance[:-1], label="imagined by the plan (1 step ahead)", alpha=0.8)
    right.plot(steps, open_loop, label="imagined open loop from step 0", alpha=0.8)
    right.set(xlabel="agent step", ylabel=f"{plan.cost} distance to goal", title="latent distance to the goal")
    right.set_yscale("log")
    right.legend()
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    write_figure(path, fig)


def _save_png(path: Path, frame: np.ndarray) -> None:
    import imageio.v3 as iio

    atomic_write_bytes(path, iio.imwrite("<bytes>", frame, extension=".png"))


# ---------------------------------------------------------------- Modal (cloud GPUs)

phase = cloud.phase_app("train-robots-mpc", Config, main, timeout=6 * 3600)
app = phase.app


if __name__ == "__main__":
    cli.run(main, Config)
