import numpy as np
import pytest
import torch

from train_robots.common.encoders import StateEncoder, build_encoder
from train_robots.common.envs import ControlEnv
from train_robots.common.goals import GoalUnreachable, goal_from_expert
from train_robots.common.presets import get_preset
from train_robots.common.runtime import episode_seed


def fingertip_in_target(env: ControlEnv) -> bool:
    model = env.physics.named.model
    return env.physics.finger_to_target_dist() <= model.geom_size["target", 0] + model.geom_size["finger", 0]


@pytest.fixture(scope="module")
def env():
    return ControlEnv("reacher-easy")


def test_goal_is_solved_and_start_state_is_restored_exactly(env):
    encoder = StateEncoder(env)
    for i in range(3):
        env.reset(episode_seed(0, i, "eval"))
        start, observation = env.get_state(), env.observation()
        assert not fingertip_in_target(env)  # otherwise the test proves nothing
        goal = goal_from_expert(env, encoder)
        assert np.array_equal(env.get_state(), start)
        assert np.array_equal(env.observation(), observation)
        assert goal.steps >= 1 and goal.frame.shape == (128, 128, 3) and goal.frame.dtype == np.uint8
        env.set_state(goal.state)
        assert fingertip_in_target(env)
        np.testing.assert_array_equal(goal.z, env.observation())  # z_goal encodes the goal moment


def test_the_episode_continues_as_if_no_goal_was_made(env):
    rng = np.random.default_rng(0)
    actions = rng.uniform(env.action_low, env.action_high, size=(10, env.action_dim))
    seed = episode_seed(0, 0, "eval")
    env.reset(seed)
    untouched = [env.step(a).reward for a in actions], env.get_state()
    env.reset(seed)
    goal_from_expert(env, StateEncoder(env))
    after_goal = [env.step(a).reward for a in actions], env.get_state()
    assert untouched[0] == after_goal[0]
    np.testing.assert_array_equal(untouched[1], after_goal[1])


def test_settled_goal_is_still_solved_and_later(env):
    env.reset(episode_seed(0, 1, "eval"))
    first = goal_from_expert(env, StateEncoder(env))
    settled = goal_from_expert(env, StateEncoder(env), settle_steps=10)
    assert first.steps < settled.steps <= first.steps + 10
    env.set_state(settled.state)
    assert fingertip_in_target(env)


def test_unreachable_goal_is_a_clear_error_and_restores_the_start(env):
    env.reset(episode_seed(0, 0, "eval"))
    start = env.get_state()
    steps = goal_from_expert(env, StateEncoder(env)).steps
    with pytest.raises(GoalUnreachable, match="did not solve reacher-easy within"):
        goal_from_expert(env, StateEncoder(env), max_steps=steps - 1)
    assert np.array_equal(env.get_state(), start)


def test_pixel_goal_encodes_the_rendered_goal_frame(env):
    preset = get_preset("smoke")
    encoder = build_encoder("vjepa2-random", env, preset, torch.device("cpu"))
    env.reset(episode_seed(0, 0, "eval"))
    goal = goal_from_expert(env, encoder)
    assert goal.frame.shape == (preset.image_size, preset.image_size, 3)
    assert goal.z.shape == (encoder.info.dim,) and goal.z.dtype == np.float32
    np.testing.assert_allclose(goal.z, encoder.encode(goal.frame[None])[0], rtol=1e-5, atol=1e-5)


def test_goal_is_a_pose_at_rest_unless_asked_otherwise(env):
    env.reset(episode_seed(0, 2, "eval"))
    nq, nv = env.physics.model.nq, env.physics.model.nv
    rest = goal_from_expert(env, StateEncoder(env))
    moving = goal_from_expert(env, StateEncoder(env), at_rest=False)
    np.testing.assert_array_equal(rest.state[nq : nq + nv], 0.0)
    np.testing.assert_array_equal(rest.z[-nv:], 0.0)  # reacher's observation ends with the joint velocities
    assert np.abs(moving.state[nq : nq + nv]).max() > 0.1  # the expert arrives moving
    np.testing.assert_array_equal(rest.state[:nq], moving.state[:nq])  # the same pose


def test_random_pose_goals_are_reachable_poses_at_rest(env):
    from train_robots.common.goals import goal_from_pose

    encoder = StateEncoder(env)
    env.reset(episode_seed(0, 0, "eval"))
    start = env.get_state()
    goals = [goal_from_pose(env, encoder, np.random.default_rng(i)) for i in range(20)]
    assert np.array_equal(env.get_state(), start)  # the episode is untouched
    wrist = np.array([env.hinge_angles(g.state)[1] for g in goals])
    low, high = env.physics.named.model.jnt_range["wrist"]
    assert np.all((low <= wrist) & (wrist <= high)) and wrist.std() > 0.5  # spread over its range
    nq, nv = env.physics.model.nq, env.physics.model.nv
    assert all(np.all(g.state[nq : nq + nv] == 0) for g in goals)
    env.set_state(goals[0].state)
    np.testing.assert_array_equal(goals[0].z, env.observation())
    assert env.pose_error(goals[0].state) == 0.0
    env.set_state(start)


def test_pose_error_wraps_angles(env):
    env.reset(0)
    goal = env.get_state().copy()
    goal[0] += 2 * np.pi + 0.2  # the same shoulder angle a full turn on, plus 0.2 rad
    assert env.pose_error(goal) == pytest.approx(0.1)  # mean over the two joints
