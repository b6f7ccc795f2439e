import numpy as np

from train_robots.common.envs import ControlEnv
from train_robots.common.experts import ReacherExpert, make_expert
from train_robots.common.runtime import episode_seed


def run_episode(env, controller, seed):
    env.reset(seed)
    total, solved = 0.0, False
    for t in range(env.spec.episode_steps):
        result = env.step(controller.act(env, t))
        total += result.reward
        solved |= result.solved
    return total, solved


def test_reacher_expert_solves_full_episodes():
    env = ControlEnv("reacher-easy")
    results = [run_episode(env, ReacherExpert(), episode_seed(0, i, "eval")) for i in range(4)]
    returns = [r for r, _ in results]
    assert all(solved for _, solved in results)
    assert np.mean(returns) >= 950, returns


def test_undamped_high_gain_controller_is_worse_than_the_expert():
    # The test can fail: a controller with no velocity feedback overshoots and scores less.
    env = ControlEnv("reacher-easy")
    seed = episode_seed(0, 0, "eval")
    expert_return, _ = run_episode(env, ReacherExpert(), seed)
    sloppy_return, _ = run_episode(env, ReacherExpert(position_gain=5.0, velocity_gain=50.0, damping=0.0), seed)
    assert expert_return > sloppy_return


def test_reacher_keeps_its_scripted_expert_and_needs_no_checkpoint(tmp_path):
    expert = make_expert("reacher-easy", tmp_path / "nothing-here")
    assert isinstance(expert, ReacherExpert) and expert.id == "ReacherExpert"
