"""The whole pipeline, phase after phase, for one task and encoder.

    python train_robots/run_pipeline.py --task reacher-easy --encoder state --preset cpu
    modal run train_robots/run_pipeline.py --encoder vjepa2 --preset full

Each phase is its own script (run it alone to redo one step); this one calls their
`main(config)` in order with the shared flags. Every phase resumes or skips finished work,
so rerunning the same command picks up where a killed run stopped. At the end it writes
`summary.json` and `results.md` (one table: expert, BC, planners, dream-SAC) beside the
checkpoints.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from any directory

from train_robots import generate_and_encode_modal as generate  # noqa: E402
from train_robots import (  # noqa: E402
    mpc_planner,
    pretrain_encoder,
    train_bc,
    train_dream_sac,
    train_dynamics,
    train_expert,
)
from train_robots.common import cli, cloud  # noqa: E402
from train_robots.common.encoders import DEFAULT_VJEPA2_ID  # noqa: E402
from train_robots.common.experts import SCRIPTED  # noqa: E402
from train_robots.common.latent_probe import probe_markdown, read_probe  # noqa: E402
from train_robots.common.rollout import format_success  # noqa: E402
from train_robots.common.run_config import RunConfig  # noqa: E402
from train_robots.common.runtime import atomic_write_bytes, write_json  # noqa: E402
from train_robots.common.task_encoder import TASK_ENCODER_NAME  # noqa: E402

PLANNERS = ("random", "cem", "mppi")
ROW_KEYS = ("success_rate", "mean_return", "std_return", "ms_per_action", "episodes")
DYNAMICS_KEYS = ("variant", "val_loss_1step", "rollout_error", "copy_baseline_error", "reward_mae")


@dataclass
class Config(RunConfig):
    ensemble: int = 5
    """Members of dream-SAC's world model (its disagreement is the uncertainty penalty)."""


def main(cfg: Config) -> dict:
    cfg.validate()  # the phases validate their own flags; the shared ones fail here, before phase 1
    shared = cfg.shared()
    out = cfg.checkpoint_folder()
    results: dict = {}
    seconds: dict[str, float] = {}
    if cfg.task.split("-")[0] not in SCRIPTED:  # walker, cheetah: the expert is learned (reused when finished)
        with phase_timer("phase 0: train the task's expert (online SAC on the state)", "expert", seconds):
            results["expert"] = train_expert.main(train_expert.Config(**shared))
    if cfg.encoder == TASK_ENCODER_NAME:
        with phase_timer("phase 0: pretrain the encoder on the task's own video", "pretrain", seconds):
            results["pretrain"] = pretrain(cfg)
    with phase_timer("phases 1-2: see, explore and remember", "data", seconds):
        generate.main(generate.Config(**shared))
    with phase_timer("phase 1: behaviour cloning", "bc", seconds):
        results["bc"] = train_bc.main(train_bc.Config(**shared))
    with phase_timer("phase 3: learn to imagine", "dynamics", seconds):
        results["dynamics"] = train_dynamics.main(train_dynamics.Config(**shared))
        results["dynamics_ensemble"] = train_dynamics.main(
            train_dynamics.Config(**shared, ensemble=cfg.ensemble, name="dynamics_ensemble")
        )
    # Dream-SAC comes before the planners: its critic and actor are their value and policy prior.
    sac = train_dream_sac.Config(**shared, dynamics=out / "dynamics_ensemble.pt")
    with phase_timer("phase 5: a policy from dreams", "sac", seconds):
        trained = train_dream_sac.main(sac)
    for planner in PLANNERS:
        with phase_timer(f"phase 4: plan by imagining ({planner})", f"mpc_{planner}", seconds):
            flags = mpc_planner.PlannerFlags(planner=planner)
            results[f"mpc_{planner}"] = mpc_planner.main(mpc_planner.Config(**shared, planning=flags))
    results["sac"] = train_dream_sac.refresh_comparison(sac, out, trained)  # now with the planners' rows
    summary = {**summarise(cfg, results), "phase_seconds": seconds, "total_seconds": sum(seconds.values())}
    write_json(out / "summary.json", summary)
    atomic_write_bytes(out / "results.md", results_table(summary).encode())
    print(results_table(summary))
    return summary


def pretrain(cfg: Config) -> dict:
    """vjepa2-task's phase 0: the state dataset (its frames are rendered from its physics states),
    then V-JEPA pretraining; both reuse or resume finished work."""
    if cfg.encoder_id != DEFAULT_VJEPA2_ID:
        print(f"--encoder-id {cfg.encoder_id}: using that vjepa2-task encoder, not pretraining one")
        return {}
    # --image-size and --pooling name a hub or random encoder's variant (refused with vjepa2-task):
    # pretraining keeps its own defaults for them.
    shared = {k: v for k, v in cfg.shared().items() if k not in ("encoder", "encoder_id", "image_size", "pooling")}
    generate.main(generate.Config(**shared, encoder="state"))
    return pretrain_encoder.main(pretrain_encoder.Config(**shared))


@contextmanager
def phase_timer(title: str, key: str, seconds: dict[str, float]):
    """Announce a phase, and print and record its wall time at its end (a reused phase takes ~0 s)."""
    print(f"== {title}", flush=True)
    start = time.perf_counter()
    yield
    seconds[key] = time.perf_counter() - start
    print(f"== {title}: {seconds[key] / 60:.1f} min", flush=True)


def summarise(cfg: Config, results: dict) -> dict:
    """The figures that answer "how well does each controller do, and how well does it imagine"."""
    summary = {"task": cfg.task, "encoder": cfg.encoder_folder(), "preset": cfg.preset, "seed": cfg.seed}
    summary["comparison"] = results["sac"]["comparison"]  # expert, BC, planners, dream-SAC
    summary["mpc_random"] = {k: results["mpc_random"].get(k) for k in ROW_KEYS}
    for name in ("dynamics", "dynamics_ensemble"):
        summary[name] = {k: results[name].get(k) for k in DYNAMICS_KEYS}
    summary["probe"] = read_probe(cfg.probe_folder())  # None until one is run
    return summary


def results_table(summary: dict) -> str:
    lines = [
        train_dream_sac.comparison_markdown(summary["comparison"], summary["task"]),
        probe_markdown(summary.get("probe")),
        f"Random shooting (the phase-4 baseline): success {format_success(summary['mpc_random']['success_rate'])}, "
        f"mean return {summary['mpc_random']['mean_return']:.1f}.",
        "",
        "World model (`dynamics.pt`) open-loop error on held-out episodes, normalised L1, vs copying the last latent:",
        "",
    ]
    dyn = summary["dynamics"]
    lines += [
        f"- h={h}: {dyn['rollout_error'][h]:.3f} vs {dyn['copy_baseline_error'][h]:.3f}" for h in dyn["rollout_error"]
    ]
    if "phase_seconds" in summary:
        times = ", ".join(f"{k} {v / 60:.1f}" for k, v in summary["phase_seconds"].items())
        lines += ["", f"Wall time: {summary['total_seconds'] / 60:.1f} min ({times} min)."]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- Modal (cloud GPUs)

phase = cloud.phase_app(
    "train-robots-pipeline", Config, main, timeout=24 * 3600, report=lambda cfg, summary: print(results_table(summary))
)
app = phase.app


if __name__ == "__main__":
    cli.run(main, Config)
