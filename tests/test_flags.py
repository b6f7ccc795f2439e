"""The flags users type: every script's --help lists the flags it listed before the shared base config."""

import importlib
import re

import pytest

from train_robots.common import cli
from train_robots.common.encoders import DEFAULT_VJEPA2_ID
from train_robots.common.presets import get_preset
from train_robots.common.run_config import RunConfig
from train_robots.common.runtime import CKPT_DIR, DATA_DIR

SHARED = "--task --encoder --encoder-id --image-size --pooling --preset --seed --device --data-dir --ckpt-dir --expert-velocity-gain --gpu"
PLANNER = (
    "--planner --samples --horizon --iterations --elites --init-std --min-std --temperature --noise-beta "
    "--mppi-adapt-std --no-mppi-adapt-std --warm-start --no-warm-start --replan-every --cost --cost-at --cost-units "
    "--reward-weight --uncertainty-penalty --action-penalty --handover --hold-horizon --hold-samples --precision"
)
# What each script's --help listed before its Config extended RunConfig (generate had no --ckpt-dir).
FLAGS = {
    "generate_and_encode_modal": f"{SHARED} --episodes --episode-steps --shard-episodes --epsilon --thumbnail-size",
    "train_bc": f"{SHARED} --hidden --layers --epochs --batch-size --lr --weight-decay --input-noise --patience "
    "--val-fraction --eval-episodes --eval-episode-steps --force --no-force",
    "train_dynamics": f"{SHARED} --model --ensemble --rollout-steps --width --depth --window --steps --batch --lr "
    "--horizon --weight-decay --val-fraction --name --compare --no-compare --restart --no-restart",
    "mpc_planner": f"{SHARED} {PLANNER} --goal-settle-steps --goal-at-rest --no-goal-at-rest --episodes "
    "--episode-steps --gif --no-gif --force --no-force --parallel --objective --value --prior-samples "
    "--gamma --sac --name",
    "train_dream_sac": f"{SHARED} --dynamics --updates --horizon --rollout-batch --rollout-every --buffer-size "
    "--batch-size --hidden --gamma --uncertainty-penalty --truncate-quantile --reward-disagreement "
    "--no-reward-disagreement --halt --no-halt --bc-weight --eval-every --eval-episodes-during --eval-episodes "
    "--eval-episode-steps --imagined-starts",
    "run_pipeline": f"{SHARED} --ensemble",
    "train_expert": f"{SHARED} --env-steps --episode-steps --seed-steps --updates-per-step --batch-size --hidden --lr "
    "--n-step "
    "--gamma --tau --init-alpha --buffer-size --eval-every --eval-episodes-during --eval-episodes --save-every --force "
    "--no-force",
    "bench": "--sections --device --quick --no-quick --out --gpu",
}
# An entry of the flag column (boxed on a terminal, plain otherwise), not an indented description line.
OPTION_LINE = re.compile(r"^[│|]?\s{1,2}((?:-{1,2}[a-z][\w-]*(?:, )?)+)")


def listed_flags(help_text: str) -> set[str]:
    found = set()
    for line in help_text.splitlines():
        if match := OPTION_LINE.match(line):
            found.update(flag.strip() for flag in match.group(1).split(","))
    return found


@pytest.mark.parametrize("script", sorted(FLAGS))
def test_help_lists_every_flag_users_type(script, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")  # one option per line, groups stacked (wider lays them side by side)
    module = importlib.import_module(f"train_robots.{script}")
    with pytest.raises(SystemExit) as done:
        cli.parse(module.Config, ["--help"])
    assert done.value.code == 0
    missing = set(FLAGS[script].split()) - listed_flags(capsys.readouterr().out)
    assert not missing, f"{script} --help no longer lists {sorted(missing)}"


@pytest.mark.parametrize("script", sorted(set(FLAGS) - {"bench"}))
def test_shared_flags_keep_their_defaults(script):
    cfg = cli.parse(importlib.import_module(f"train_robots.{script}").Config, [])
    assert isinstance(cfg, RunConfig)
    assert cfg.shared() == {
        "task": "reacher-easy",
        "encoder": "vjepa2",
        "encoder_id": DEFAULT_VJEPA2_ID,
        "preset": "cpu",
        "seed": 0,
        "device": "auto",
        "data_dir": DATA_DIR,
        "ckpt_dir": CKPT_DIR,
        "expert_velocity_gain": None,
        "gpu": "A10",
        "image_size": None,
        "pooling": None,
    }


def test_planner_flags_are_flat_and_sized_by_the_preset():
    from train_robots import mpc_planner

    plain = cli.parse(mpc_planner.Config, ["--preset", "full"]).planner_config()
    full = get_preset("full")
    assert (plain.samples, plain.replan_every) == (full.plan_samples, full.plan_replan_every)
    cfg = cli.parse(mpc_planner.Config, ["--samples", "7", "--no-mppi-adapt-std", "--cost", "l2", "--episodes", "3"])
    planner = cfg.planner_config()
    assert (planner.samples, planner.mppi_adapt_std, planner.cost, cfg.episodes) == (7, False, "l2", 3)
    assert planner.replan_every == get_preset("cpu").plan_replan_every


def test_pixel_planning_on_the_cpu_preset_gets_its_smaller_budget():
    from train_robots import mpc_planner

    def planner(*args):
        p = cli.parse(mpc_planner.Config, ["--preset", "cpu", *args]).planner_config()
        return p.samples, p.iterations, p.elites, p.hold_samples

    assert planner("--encoder", "state") == (500, 5, 64, 100)
    assert planner("--encoder", "vjepa2-task") == (100, 3, 16, 50)
    assert planner("--encoder", "vjepa2-random") == (100, 3, 16, 50)  # the random encoder compares on the same budget
    assert planner("--encoder", "vjepa2-task", "--preset", "full") == (1000, 5, 64, 0)
    flags = ("--samples", "200", "--iterations", "4", "--elites", "32", "--hold-samples", "20")
    assert planner("--encoder", "vjepa2-task", *flags) == (200, 4, 32, 20)  # flags still win


def test_the_pixel_world_model_on_the_cpu_preset_trains_longer_on_one_step():
    from train_robots import train_dynamics

    def sizes(*args):
        cfg = cli.parse(train_dynamics.Config, ["--preset", "cpu", *args]).resolved()
        return cfg.width, cfg.rollout_steps, cfg.steps

    assert sizes("--encoder", "state") == (256, 5, 3000)
    assert sizes("--encoder", "vjepa2-task") == (512, 1, 15000)
    assert sizes("--encoder", "vjepa2-random") == (512, 1, 15000)  # the same as the task encoder's
    assert sizes("--encoder", "vjepa2-task", "--preset", "full")[:2] == (512, 5)
    flags = ("--width", "128", "--rollout-steps", "3", "--steps", "100")
    assert sizes("--encoder", "vjepa2-task", *flags) == (128, 3, 100)  # flags still win


def test_planner_guidance_defaults_follow_the_objective():
    from train_robots import mpc_planner

    def planner(*args):
        return cli.parse(mpc_planner.Config, ["--samples", "500", *args]).planner_config()

    reacher, walker = planner(), planner("--task", "walker-walk")
    assert (reacher.objective, reacher.value, reacher.prior_samples, reacher.cost_at) == ("goal", False, 250, "every")
    assert (walker.objective, walker.value, walker.prior_samples) == ("reward", True, 250)
    assert (reacher.horizon, walker.horizon, planner("--horizon", "5").horizon) == (40, 10, 5)
    # toward a goal image the actor hands over near the goal; no handover without its samples or a goal
    assert (reacher.handover, reacher.hold_horizon, walker.handover, walker.hold_horizon) == (0.5, 20, 0, 0)
    assert planner("--prior-samples", "0").handover == 0 and planner("--horizon", "5").hold_horizon == 5
    assert planner("--handover", "0").hold_horizon == 0 and planner("--hold-horizon", "7").hold_horizon == 7
    assert (reacher.hold_samples, walker.hold_samples, planner("--handover", "0").hold_samples) == (100, 0, 0)
    assert planner("--hold-samples", "0").hold_samples == 0 and planner("--samples", "7").hold_samples == 7
    assert planner("--preset", "full").hold_samples == 0  # a GPU imagines all of them
    assert planner("--value", "True").value and planner("--prior-samples", "0").prior_samples == 0
    tiny = cli.parse(mpc_planner.Config, ["--task", "walker-walk", "--samples", "2", "--elites", "2"]).planner_config()
    tiny.validate()  # a default never breaks the planner's own bounds
    assert tiny.prior_samples == 0
