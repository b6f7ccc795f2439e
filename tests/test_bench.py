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
