"""mpc_planner end to end on smoke data: a smoke world model, goals from the expert, CEM in the loop."""

import json
from dataclasses import fields

import numpy as np
import pytest

from train_robots import mpc_planner
from train_robots.common.presets import get_preset
from train_robots.common.runtime import UserError

PLANNER_FIELDS = {f.name for f in fields(mpc_planner.PlannerFlags)}
# No policy prior: these runs have no dream-SAC agent (the default asks for one, tested below).
SMALL = dict(samples=64, horizon=5, iterations=2, elites=8, episodes=2, episode_steps=8, prior_samples=0)


def config(data_dir, ckpt_dir, **changes):
    """A smoke Config; planner settings (samples, cost, ...) go to its nested planning flags."""
    values = dict(task="reacher-easy", encoder="state", preset="smoke", device="cpu") | SMALL | changes
    planning = {k: values.pop(k) for k in list(values) if k in PLANNER_FIELDS}
    return mpc_planner.Config(
        data_dir=data_dir, ckpt_dir=ckpt_dir, planning=mpc_planner.PlannerFlags(**planning), **values
    )


def test_mpc_writes_metrics_goal_and_plots(smoke_dynamics):
    data_dir, ckpt_dir = smoke_dynamics
    metrics = mpc_planner.main(config(data_dir, ckpt_dir, planner="cem", replan_every=2))
    out = ckpt_dir / "reacher-easy" / "state"
    written = json.loads((out / "mpc_cem.json").read_text())
    for key in ("episodes", "success_rate", "mean_return", "std_return", "ms_per_action", "seeds", "encoder"):
        assert key in written, key
    assert written["episodes"] == 2 and written["encoder"] == "state" and written["planner"] == "cem"
    assert written["settings"]["samples"] == 64 and written["settings"]["replan_every"] == 2
    assert written["plans"] == 2 * 4  # 8 steps, a plan every 2
    assert len(written["planning_best_cost_per_iteration"]) == 2
    assert written["goal_steps_mean"] >= 1
    # without the actor's samples there is nothing to hand over (and the settings say nothing of it)
    assert "handover" not in written["settings"] and written["plans_past_handover"] == 0
    for name in ("mpc_cem_goal.png", "mpc_cem_planning.png", "mpc_cem_returns.png"):
        assert (out / name).stat().st_size > 0
    assert metrics["success_rate"] == written["success_rate"]


def test_mpc_rerun_reuses_and_other_planners_run(smoke_dynamics, capsys):
    data_dir, ckpt_dir = smoke_dynamics
    first = mpc_planner.main(config(data_dir, ckpt_dir, planner="mppi", episodes=1))
    again = mpc_planner.main(config(data_dir, ckpt_dir, planner="mppi", episodes=1))
    assert "already evaluated" in capsys.readouterr().out
    assert again == json.loads(json.dumps(first))
    shooting = mpc_planner.main(config(data_dir, ckpt_dir, planner="random", episodes=1, cost="cosine"))
    assert shooting["settings"]["cost"] == "cosine" and shooting["planner"] == "random"


def test_first_episode_replays_an_episode_of_a_longer_run_alone(smoke_dynamics):
    """Episode k of a run, replayed with --first-episode k --episodes 1, has the same start, goal
    and plans: the per-episode figures of the parts average to the whole run's."""
    data_dir, ckpt_dir = smoke_dynamics
    both = mpc_planner.main(config(data_dir, ckpt_dir, planner="cem", name="both"))
    parts = [
        mpc_planner.main(config(data_dir, ckpt_dir, planner="cem", episodes=1, first_episode=k, name=f"ep{k}"))
        for k in (0, 1)
    ]
    assert [p["seeds"][0] for p in parts] == both["seeds"]
    assert parts[0]["goal_distance_start"] != parts[1]["goal_distance_start"]
    for key in ("goal_distance_start", "goal_distance_min", "goal_distance_end"):
        assert np.mean([p[key] for p in parts]) == pytest.approx(both[key], rel=1e-5), key
    assert parts[1]["settings"]["first_episode"] == 1 and "first_episode" not in both["settings"]
    # 8 steps are too short to reach the target: both are missed, and named by their index in the seed
    assert both["missed_episodes"] == [0, 1] and parts[1]["missed_episodes"] == [1]
    # without --name a replay writes beside the run it replays, never over it
    mpc_planner.main(config(data_dir, ckpt_dir, planner="cem", episodes=1, first_episode=1))
    out = ckpt_dir / "reacher-easy" / "state"
    assert json.loads((out / "mpc_cem_from1.json").read_text())["seeds"] == both["seeds"][1:]


def test_dynamics_flag_plans_with_another_world_model_and_writes_beside_the_default(smoke_dynamics, tmp_path):
    data_dir, ckpt_dir = smoke_dynamics
    default = ckpt_dir / "reacher-easy" / "state" / "dynamics.pt"
    other = tmp_path / "elsewhere" / "variant.pt"
    other.parent.mkdir()
    other.write_bytes(default.read_bytes())
    metrics = mpc_planner.main(config(data_dir, ckpt_dir, planner="cem", episodes=1, dynamics=other, name="variant"))
    assert metrics["dynamics"] == str(other)
    assert (ckpt_dir / "reacher-easy" / "state" / "variant.json").exists()  # outputs stay in the checkpoints
    assert not (other.parent / "variant.json").exists()
    with pytest.raises(UserError, match="--dynamics"):
        mpc_planner.main(config(data_dir, ckpt_dir, dynamics=tmp_path / "missing.pt", name="missing"))
    remote = config(data_dir, ckpt_dir, dynamics=other, sac=other).on_volume()
    assert remote.dynamics is None and remote.sac is None  # local paths mean nothing on the volume


def test_mpc_without_dynamics_says_train_it_first(tmp_path):
    with pytest.raises(UserError, match="run train_dynamics.py first"):
        mpc_planner.main(config(tmp_path / "data", tmp_path / "ckpt"))


def test_mpc_rejects_bad_planner_settings(tmp_path):
    with pytest.raises(UserError, match="--planner"):
        mpc_planner.main(config(tmp_path, tmp_path, planner="ilqr"))
    with pytest.raises(UserError, match="--first-episode"):
        mpc_planner.main(config(tmp_path, tmp_path, first_episode=-1))


def test_value_and_policy_prior_from_dream_sac(smoke_dynamics):
    from train_robots import train_dream_sac

    data_dir, ckpt_dir = smoke_dynamics
    with pytest.raises(UserError, match="train_dream_sac.py"):
        mpc_planner.main(config(data_dir, ckpt_dir, planner="cem", value=True, name="mpc_cem_guided"))
    with pytest.raises(UserError, match="train_dream_sac.py"):  # by default a share of samples is the actor's
        mpc_planner.main(config(data_dir, ckpt_dir, planner="cem", prior_samples=None, name="mpc_cem_guided"))
    train_dream_sac.main(
        train_dream_sac.Config(
            task="reacher-easy", encoder="state", preset="smoke", data_dir=data_dir, ckpt_dir=ckpt_dir, device="cpu"
        )
    )
    metrics = mpc_planner.main(
        config(data_dir, ckpt_dir, planner="cem", value=True, prior_samples=8, episodes=1, name="mpc_cem_guided")
    )
    out = ckpt_dir / "reacher-easy" / "state"
    written = json.loads((out / "mpc_cem_guided.json").read_text())
    assert written["settings"]["value"] and written["settings"]["prior_samples"] == 8
    assert "sac_sha256" in written["settings"] and metrics["episodes"] == 1
    handed = mpc_planner.main(
        config(data_dir, ckpt_dir, prior_samples=8, handover=1.0, hold_horizon=3, episodes=1, name="mpc_cem_hand")
    )
    assert handed["settings"]["handover"] == 1.0 and handed["settings"]["hold_horizon"] == 3
    assert 0 <= handed["plans_past_handover"] <= 1
    # reacher's defaults: the actor's share of samples, no critic, a goal that must be held
    default = mpc_planner.main(config(data_dir, ckpt_dir, prior_samples=None, episodes=1, name="mpc_cem_default"))
    assert default["settings"]["prior_samples"] == 64 // 2 and default["settings"]["value"] is False
    assert default["settings"]["handover"] == 0.5 and default["settings"]["hold_horizon"] == 5  # capped by --horizon
    assert default["settings"]["hold_samples"] == get_preset("smoke").plan_hold_samples
    assert default["settings"]["cost_at"] == "every"
    assert (
        not (out / "mpc_cem.json").exists()
        or json.loads((out / "mpc_cem.json").read_text())["settings"] != written["settings"]
    )


def test_goal_image_flags_are_refused_where_no_goal_image_exists(tmp_path):
    with pytest.raises(UserError, match="--cost-at set a goal-image cost"):
        mpc_planner.main(config(tmp_path, tmp_path, task="walker-walk", cost_at="final"))
    with pytest.raises(UserError, match="--objective goal needs a task"):
        mpc_planner.main(config(tmp_path, tmp_path, task="cheetah-run", objective="goal"))


def test_pose_goals_report_how_well_the_pose_is_held(smoke_dynamics):
    data_dir, ckpt_dir = smoke_dynamics
    metrics = mpc_planner.main(config(data_dir, ckpt_dir, goal_source="pose", name="mpc_cem_pose", episodes=2))
    for key in ("goal_pose_error_end_median", "goal_pose_error_min_median", "goal_pose_held_fraction"):
        assert key in metrics
    assert 0 <= metrics["goal_pose_error_min_median"] <= metrics["goal_pose_error_end_median"]
    assert metrics["goal_pose_error_min_median"] <= np.pi and metrics["settings"]["goal_source"] == "pose"
    assert metrics["goal_steps_mean"] == 0  # not the expert's goals
