"""The goal cost's landscape on real frames (goal_landscape.py): poses a known angle from a goal,
the rank figures, and the script's outputs and refusals."""

import json

import numpy as np
import pytest

from train_robots import goal_landscape as script
from train_robots.common.envs import ControlEnv
from train_robots.common.goal_landscape import SPEEDS_RAD, pose_at, rank_auc, unit_directions
from train_robots.common.runtime import ConfigError


def test_pose_at_moves_the_hinges_clips_the_limited_one_and_rests():
    env = ControlEnv("reacher-easy")
    env.reset(3)
    env.step(np.ones(env.action_dim))  # moving: the pose must come back at rest
    goal = env.get_state()
    shoulder, elbow = env.hinge_angles(goal)
    moved = pose_at(env, goal, np.array([0.3, -0.2]))
    assert np.allclose(env.hinge_angles(moved), [shoulder + 0.3, elbow - 0.2])
    nq, nv = env.physics.model.nq, env.physics.model.nv
    assert np.all(moved[nq : nq + nv] == 0) and np.any(goal[nq : nq + nv] != 0)
    assert np.array_equal(moved[nq + nv :], goal[nq + nv :])  # the target stays where it was
    low, high = env.physics.model.jnt_range[1]
    assert env.hinge_angles(pose_at(env, goal, np.array([0.0, 10.0])))[1] == pytest.approx(high)
    assert env.hinge_angles(pose_at(env, goal, np.array([0.0, -10.0])))[1] == pytest.approx(low)


def test_rank_auc_counts_pairs_in_order_and_ties_as_half():
    assert rank_auc(np.array([0.1, 0.2]), np.array([0.3, 0.4])) == 1.0
    assert rank_auc(np.array([0.5]), np.array([0.3, 0.4])) == 0.0
    assert rank_auc(np.array([0.3]), np.array([0.3, 0.4])) == 0.75
    assert np.isnan(rank_auc(np.zeros(0), np.array([1.0])))


def test_unit_directions_have_unit_length():
    d = unit_directions(5, 2, np.random.default_rng(0))
    assert d.shape == (5, 2) and np.allclose(np.linalg.norm(d, axis=1), 1)
    with pytest.raises(ValueError):
        unit_directions(0, 2, np.random.default_rng(0))


def test_the_state_landscape_rises_with_the_pose_error(tmp_path):
    cfg = script.Config(encoder="state", preset="smoke", goals=3, directions=4, ckpt_dir=tmp_path, device="cpu")
    figures = script.main(cfg)
    out = tmp_path / "reacher-easy" / "state" / "goal_landscape"
    assert json.loads(out.with_suffix(".json").read_text()) == pytest.approx(figures, nan_ok=True)
    assert out.with_suffix(".png").stat().st_size > 0
    assert figures["poses"] == 3 * 4 * 10  # every offset but the goal itself, along every direction
    assert figures["spearman_distance_vs_pose_error"] > 0.9
    assert figures["distance_at_0.05rad"] < figures["distance_at_0.5rad"] < figures["distance_at_3rad"] == 1.0
    assert 0 < figures["in_target_share"] < 1 and figures["auc_in_target"] > 0.7
    assert not any(k.startswith("moving_") for k in figures)  # the state reads no clip


def test_a_pixel_encoder_also_measures_the_goal_seen_moving(tmp_path):
    cfg = script.Config(
        encoder="vjepa2-random", preset="smoke", goals=1, directions=2, ckpt_dir=tmp_path, device="cpu", label="px"
    )
    figures = script.main(cfg)
    assert (tmp_path / "reacher-easy" / "vjepa2-random" / "goal_landscape-px.json").exists()
    moving = [figures[f"moving_distance_at_{s:g}rad"] for s in SPEEDS_RAD]
    assert all(np.isfinite(moving)) and all(m > 0 for m in moving)  # a moving arm is not the still goal


@pytest.mark.parametrize(
    "change, flag",
    [({"task": "walker-walk"}, "--task walker-walk"), ({"goals": 0}, "--goals"), ({"directions": 0}, "--directions")],
)
def test_bad_settings_name_the_flag(tmp_path, change, flag):
    cfg = script.Config(encoder="state", preset="smoke", ckpt_dir=tmp_path, **change)
    with pytest.raises(ConfigError, match=flag):
        cfg.validate()
