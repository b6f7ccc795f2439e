import json

from train_robots import bench


def test_bench_writes_positive_rates(tmp_path):
    out = tmp_path / "bench.json"
    results = bench.main(bench.Config(sections=("envs",), quick=True, out=out))
    saved = json.loads(out.read_text())
    assert saved["envs"] == results["envs"]
    assert saved["envs"]["reacher_agent_steps_per_s"] > 0
    # rendering costs something on top of physics: the two rates are measured, not copied
    assert saved["envs"]["reacher_steps_per_s_render_256px"] < saved["envs"]["reacher_agent_steps_per_s"]


def test_unknown_section_is_refused(tmp_path):
    import pytest

    from train_robots.common.runtime import ConfigError

    with pytest.raises(ConfigError, match="--sections"):
        bench.main(bench.Config(sections=("nope",), out=tmp_path / "b.json"))
    assert not (tmp_path / "b.json").exists()


def test_encoder_latency_covers_every_encoder_at_batch_1_and_50(tmp_path):
    figures = bench.main(bench.Config(sections=("encoder_latency",), quick=True, out=tmp_path / "b.json"))[
        "encoder_latency"
    ]
    for name in ("state", "vjepa2-random", "vjepa2-random_64px_grid2", "vjepa2-task"):
        assert figures[f"{name}_b1_ms_per_frame"] > 0 and figures[f"{name}_b50_ms_per_frame"] > 0
    # the task encoder went through save_pretrained / from_pretrained with grid2 pooling of 192 channels
    assert figures["vjepa2-task_dim"] == 4 * 192
    assert figures["state_dim"] < figures["vjepa2-random_dim"]
    assert figures["vjepa2-random_64px_grid2_dim"] == 4 * figures["vjepa2-random_dim"]  # 2x2 cells of 1024


def test_expert_training_splits_an_agent_step_and_projects_the_run(tmp_path):
    figures = bench.main(bench.Config(sections=("expert_training",), quick=True, out=tmp_path / "b.json"))[
        "expert_training"
    ]
    assert figures["updates_per_agent_step"] == 2.0  # walker's preset
    assert figures["env_ms_per_agent_step"] > 0 and figures["act_ms"] > 0 and figures["update_ms"] > 0
    assert 0.0 < figures["update_share"] < 1.0
    per_step = figures["env_ms_per_agent_step"] + figures["act_ms"] + 2.0 * figures["update_ms"]
    assert abs(figures["minutes_for_500k_env_steps"] - 250_000 * per_step / 60_000) < 1e-6


def test_planner_prior_times_the_folded_and_the_plain_actor_rollout(tmp_path):
    figures = bench.main(bench.Config(sections=("planner_prior",), quick=True, out=tmp_path / "b.json"))[
        "planner_prior"
    ]
    assert (figures["dim"], figures["problems"]) == (4096, 2) and 0 < figures["prior_samples"] < figures["samples"]
    assert figures["folded_ms_per_plan"] > 0 and figures["plain_ms_per_plan"] > 0
    assert figures["folded_speedup"] == figures["plain_ms_per_plan"] / figures["folded_ms_per_plan"]


def test_planner_lockstep_times_one_plan_per_problem_at_each_batch_size(tmp_path):
    figures = bench.main(bench.Config(sections=("planner_lockstep",), quick=True, out=tmp_path / "b.json"))[
        "planner_lockstep"
    ]
    assert (figures["dim"], figures["samples"]) == (4096, 100)
    assert figures["N1_ms_per_problem"] > 0 and figures["N2_ms_per_problem"] > 0
    # the bytes the evaluation sizes its batch by count each imagined step's 4096 floats per sample
    assert figures["bytes_per_problem"] >= 4 * 100 * 20 * 4096
    assert 5 <= figures["cpu_default_N"] <= 10
