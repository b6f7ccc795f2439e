"""Every phase script's Modal app imports offline, and what a container runs resolves to the script's code."""

import importlib
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import modal
import pytest
from modal._runtime.user_code_imports import import_single_function_service
from modal._utils.async_utils import synchronizer
from modal_proto import api_pb2

from train_robots.common import cloud
from train_robots.common.run_config import RunConfig

# script -> the functions of the script its Modal functions run
SCRIPTS = {
    "generate_and_encode_modal": ["prepare", "write_shard"],
    "train_bc": ["main"],
    "bench": ["main"],
    "run_pipeline": ["main"],
    "train_dynamics": ["main"],
    "train_dream_sac": ["main"],
    "mpc_planner": ["main"],
    "pretrain_encoder": ["main"],
    "probe_encoder": ["main"],
    "goal_landscape": ["main"],
    "train_expert": ["main"],
}


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_modal_app_imports_offline(script):
    module = importlib.import_module(f"train_robots.{script}")
    assert isinstance(module.app, modal.App) and module.app is module.phase.app
    assert sorted(module.phase.functions) == sorted(SCRIPTS[script])
    for name, function in module.phase.functions.items():
        assert isinstance(function, modal.Function), f"{script}.{name} is not a Modal function"
        assert function.with_options(gpu="T4") is not None  # the GPU type can be chosen per run
        assert cloud.reference(getattr(module, name)) == f"train_robots.{script}:{name}"
    assert cloud.reference(module.Config) == f"train_robots.{script}:Config"
    assert callable(module.main)


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_a_container_imports_the_function_it_runs(script):
    """Modal's own container-side import (pinned modal 1.6) finds every function by module and name."""
    module = importlib.import_module(f"train_robots.{script}")
    for function in module.phase.functions.values():
        info = synchronizer._translate_in(function)._source_info_
        definition = api_pb2.Function(
            module_name=info.module_name,
            implementation_name=info.implementation_name,
            function_name=info.function_name,
            app_name=module.app.name,
        )
        assert import_single_function_service(definition, None)._user_defined_callable is cloud.run_on_volume


@dataclass
class FakeConfig(RunConfig):
    fail: bool = False
    """Raise inside the run."""


def fake_main(cfg: FakeConfig, *extra) -> tuple:
    if cfg.fail:
        raise RuntimeError("late failure")
    return cfg, extra


class FakeVolume:
    commits = 0

    def commit(self) -> None:
        self.commits += 1


def test_run_on_volume_parses_the_flags_points_at_the_volume_and_always_commits(monkeypatch):
    monkeypatch.setitem(sys.modules, "fake_phase", types.SimpleNamespace(Config=FakeConfig, main=fake_main))
    volume = FakeVolume()
    monkeypatch.setattr(cloud, "data_volume", volume)
    cfg, extra = cloud.run_on_volume("fake_phase:main", "fake_phase:Config", ["--task", "walker-walk"], 3)
    assert (cfg.task, cfg.device, extra) == ("walker-walk", "cuda", (3,))
    assert cfg.data_dir == Path(cloud.REMOTE_DATA_DIR) and cfg.ckpt_dir == Path(cloud.REMOTE_CKPT_DIR)
    assert volume.commits == 1
    with pytest.raises(RuntimeError, match="late failure"):
        cloud.run_on_volume("fake_phase:main", "fake_phase:Config", ["--fail"])
    assert volume.commits == 2  # what a failed run wrote is kept
