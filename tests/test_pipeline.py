"""The whole pipeline on the smoke preset: every phase runs and the summary is written."""

import json

import torch

from train_robots import run_pipeline


def test_pipeline_runs_every_phase_and_resumes(tmp_path):
    cfg = run_pipeline.Config(
        encoder="state", preset="smoke", device="cpu", data_dir=tmp_path / "data", ckpt_dir=tmp_path / "ckpt"
    )
    summary = run_pipeline.main(cfg)
    out = tmp_path / "ckpt" / "reacher-easy" / "state"
    for name in ("bc.pt", "dynamics.pt", "dynamics_ensemble.pt", "mpc_cem.json", "mpc_mppi.json", "sac.pt"):
        assert (out / name).exists(), name
    saved = json.loads((out / "summary.json").read_text())
    assert saved == json.loads(json.dumps(summary))
    methods = [row["method"] for row in saved["comparison"]]
    assert methods[0] == "expert" and methods[-1] == "dream-SAC"
    assert all(row["status"] == "ok" for row in saved["comparison"])
    assert "| dream-SAC | state |" in (out / "results.md").read_text()
    phases = {"data", "bc", "dynamics", "mpc_random", "mpc_cem", "mpc_mppi", "sac"}
    assert set(saved["phase_seconds"]) == phases and all(t > 0 for t in saved["phase_seconds"].values())
    assert saved["total_seconds"] == sum(saved["phase_seconds"].values())
    assert "Wall time:" in (out / "results.md").read_text()
    # rerunning the same command reuses what is finished instead of retraining it
    bc_mtime = (out / "bc.pt").stat().st_mtime_ns
    weights = torch.load(out / "dynamics.pt", weights_only=False)["model"]
    run_pipeline.main(cfg)
    assert (out / "bc.pt").stat().st_mtime_ns == bc_mtime
    again = torch.load(out / "dynamics.pt", weights_only=False)["model"]
    assert all(torch.equal(weights[k], again[k]) for k in weights)


def test_pipeline_pretrains_the_task_encoder_first(tmp_path):
    cfg = run_pipeline.Config(
        encoder="vjepa2-task", preset="smoke", device="cpu", data_dir=tmp_path / "data", ckpt_dir=tmp_path / "ckpt"
    )
    summary = run_pipeline.main(cfg)
    assert (tmp_path / "data" / "reacher-easy" / "state" / "meta.json").exists()  # phase 0's frames source
    encoder_dir = tmp_path / "ckpt" / "reacher-easy" / "vjepa2-task" / "encoder"
    assert (encoder_dir / "config.json").exists() and (encoder_dir / "video_preprocessor_config.json").exists()
    meta = json.loads((tmp_path / "data" / "reacher-easy" / "vjepa2-task" / "meta.json").read_text())
    assert meta["encoder"]["name"] == "vjepa2-task" and meta["encoder"]["pooling"] == "grid2"
    assert summary["phase_seconds"]["pretrain"] > 0 and summary["encoder"] == "vjepa2-task"
    assert [row["status"] for row in summary["comparison"]] == ["ok"] * len(summary["comparison"])


def test_pipeline_on_walker_trains_its_expert_first_and_plans_on_the_learned_reward(tmp_path):
    cfg = run_pipeline.Config(
        task="walker-walk",
        encoder="state",
        preset="smoke",
        device="cpu",
        data_dir=tmp_path / "data",
        ckpt_dir=tmp_path / "ckpt",
    )
    summary = run_pipeline.main(cfg)
    assert (tmp_path / "ckpt" / "walker-walk" / "expert" / "expert.json").exists()
    meta = json.loads((tmp_path / "data" / "walker-walk" / "state" / "meta.json").read_text())
    assert meta["expert_id"].startswith("sac:")
    assert summary["phase_seconds"]["expert"] > 0
    cem = json.loads((tmp_path / "ckpt" / "walker-walk" / "state" / "mpc_cem.json").read_text())
    assert cem["settings"]["objective"] == "reward"  # no goal image defines walking
    # dream-SAC guides it: its critic is the terminal value, its actor draws half the samples
    assert cem["settings"]["value"] is True and cem["settings"]["prior_samples"] == cem["settings"]["samples"] // 2
    assert [row["status"] for row in summary["comparison"]] == ["ok"] * len(summary["comparison"])
