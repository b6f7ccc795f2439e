"""Phase 4's question, asked of the encoder alone: can a latent distance to a goal image guide a
planner at all? (common/goal_landscape.py)

For the first --goals evaluation episodes (the same starts and expert goals as mpc_planner.py's),
the arm is set to poses 0.05 to 3 rad (in joint space) away from the goal pose along --directions
random directions, at rest; each is rendered and encoded, and its latent distance to the goal's
latent set against its pose error and whether it is inside the target. The goal pose seen while
moving through it (a clip of the previous and current frame) gives the distance a passing arm
reads at the goal itself. A world model can at best reproduce these distances, so they bound
what any planner toward a goal image can do with this encoder.

    python train_robots/goal_landscape.py --encoder vjepa2-task       # checkpoints/<task>/vjepa2-task/encoder
    python train_robots/goal_landscape.py --encoder vjepa2-random
    python train_robots/goal_landscape.py --encoder state             # the sanity check

Writes <ckpt-dir>/<task>/<encoder>/goal_landscape[-<label>].json (flat figures: the Spearman
correlation of distance and pose error, the AUC of telling inside the target from outside, the
median distance per offset and per speed) and .png (distance against pose error).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from any directory

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from train_robots.common import cli, cloud  # noqa: E402
from train_robots.common.envs import ControlEnv, task_spec  # noqa: E402
from train_robots.common.goal_landscape import (  # noqa: E402
    landscape_of,
    plot_landscape,
    summarize,
    unit_directions,
)
from train_robots.common.goals import goal_from_expert  # noqa: E402
from train_robots.common.presets import get_preset  # noqa: E402
from train_robots.common.run_config import RunConfig  # noqa: E402
from train_robots.common.runtime import ConfigError, episode_seed, resolve_device, write_figure, write_json  # noqa: E402
from train_robots.common.task_encoder import TASK_ENCODER_NAME  # noqa: E402


@dataclass
class Config(RunConfig):
    encoder: str = TASK_ENCODER_NAME
    """vjepa2-task (pretrained here), vjepa2-random, vjepa2 (--encoder-id) or state (the sanity check)."""
    goals: int = 20
    """Evaluation episodes whose expert goal is probed (episodes 0, 1, ... of --seed's evaluation stream)."""
    directions: int = 8
    """Random joint-space directions per goal; every offset is taken along each."""
    label: str = ""
    """Suffix of the output names (goal_landscape-<label>.json), to keep several apart."""

    def validate(self) -> None:
        super().validate()
        if self.goals < 1 or self.directions < 1:
            raise ConfigError(f"--goals and --directions must be at least 1, got {self.goals}, {self.directions}")
        if not task_spec(self.task).goal_images:
            raise ConfigError(
                f"--task {self.task} has no goal images (its expert does not end in a pose); the landscape needs "
                "one: reacher-easy"
            )

    def stem(self) -> str:
        return f"goal_landscape-{self.label}" if self.label else "goal_landscape"


def main(cfg: Config) -> dict:
    """Measure the landscape around each goal; returns (and writes) the flat figures."""
    cfg.validate()
    device = resolve_device(cfg.device)
    env = ControlEnv(cfg.task)
    encoder = cfg.build_encoder(env, get_preset(cfg.preset, cfg.task), device)
    rng = np.random.default_rng(cfg.seed)
    started, parts = time.perf_counter(), []
    for i in tqdm(range(cfg.goals), desc="goal landscape", unit="goal"):
        env.reset(episode_seed(cfg.seed, i, "eval"))
        goal = goal_from_expert(env, encoder, expert=cfg.expert())
        parts.append(landscape_of(env, encoder, goal, unit_directions(cfg.directions, len(env.hinge_angles()), rng)))
    figures = {
        "task": cfg.task,
        "encoder": cfg.encoder,
        "encoder_id": encoder.info.id,
        "directions": cfg.directions,
        "seed": cfg.seed,
        "seconds": time.perf_counter() - started,
        **summarize(parts),
    }
    out = cfg.checkpoint_folder() / cfg.stem()
    write_json(out.with_suffix(".json"), figures)
    title = f"{cfg.task} / {encoder.info.id}: {cfg.goals} goals x {cfg.directions} directions"
    write_figure(out.with_suffix(".png"), plot_landscape(parts, title))
    report(figures, out)
    return figures


def report(figures: dict, out: Path) -> None:
    print(
        f"Spearman(distance, pose error) {figures['spearman_distance_vs_pose_error']:.3f}; "
        f"AUC inside vs outside the target {figures['auc_in_target']:.3f} ({figures['goals_with_auc']} goals)"
    )
    by_offset = {k: v for k, v in figures.items() if k.startswith("distance_at_")}
    print("median distance by offset: " + ", ".join(f"{k[12:]} {v:.2f}" for k, v in by_offset.items()))
    moving = {k: v for k, v in figures.items() if k.startswith("moving_distance_at_")}
    if moving:
        print("the goal pose moving through it: " + ", ".join(f"{k[19:]} {v:.2f}" for k, v in moving.items()))
    print(f"-> {out}.json, {out}.png")


# ---------------------------------------------------------------- Modal (cloud GPUs)

phase = cloud.phase_app("train-robots-goal-landscape", Config, main, timeout=3600)
app = phase.app


if __name__ == "__main__":
    cli.run(main, Config)
