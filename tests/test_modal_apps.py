"""Every phase script's Modal app imports offline and exposes its functions."""

import importlib

import modal
import pytest

SCRIPTS = {
    "generate_and_encode_modal": ["prepare_remote", "generate_shard_remote"],
    "train_bc": ["train_bc_remote"],
    "bench": ["bench_remote"],
    "run_pipeline": ["pipeline_remote"],
    "train_dynamics": ["train_remote"],
    "train_dream_sac": ["train_remote"],
    "mpc_planner": ["mpc_remote"],
    "pretrain_encoder": ["pretrain_remote"],
    "probe_encoder": ["probe_remote"],
}


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_modal_app_imports_offline(script):
    module = importlib.import_module(f"train_robots.{script}")
    assert isinstance(module.app, modal.App)
    for name in SCRIPTS[script]:
        function = getattr(module, name)
        assert isinstance(function, modal.Function), f"{script}.{name} is not a Modal function"
        assert function.with_options(gpu="T4") is not None  # the GPU type can be chosen per run
    assert callable(module.main)
