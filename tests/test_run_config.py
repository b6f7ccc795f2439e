"""The shared run flags: checked once for every script; a bad one is one line of error and exit status 2."""

import importlib
import subprocess
import sys

import numpy as np
import pytest

from train_robots import generate_and_encode_modal as generate
from train_robots import train_bc
from train_robots.common import cli
from train_robots.common.runtime import REPO_ROOT, UserError

SCRIPTS = ["generate_and_encode_modal", "train_bc", "train_dynamics", "mpc_planner", "train_dream_sac", "run_pipeline"]


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a folder")
    return path


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("flag", ["--ckpt-dir", "--data-dir"])
def test_a_file_given_as_a_folder_is_one_line_naming_flag_and_path(script, flag, a_file, capsys):
    module = importlib.import_module(f"train_robots.{script}")
    with pytest.raises(SystemExit) as done:
        cli.run(module.main, module.Config, [flag, str(a_file), "--preset", "smoke", "--device", "cpu"])
    assert done.value.code == 2
    assert capsys.readouterr().err == f"error: {flag} {a_file} is a file, not a directory\n"


def test_a_folder_under_a_file_is_refused_too(a_file, capsys):
    with pytest.raises(SystemExit):
        cli.run(train_bc.main, train_bc.Config, ["--ckpt-dir", str(a_file / "runs")])
    expected = f"error: --ckpt-dir {a_file / 'runs'} lies under {a_file}, which is a file, not a directory\n"
    assert capsys.readouterr().err == expected


def test_the_script_itself_exits_2_without_a_traceback(a_file, tmp_path):
    cmd = [sys.executable, str(REPO_ROOT / "train_robots" / "train_bc.py"), "--ckpt-dir", str(a_file)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"error: --ckpt-dir {a_file} is a file, not a directory"]


def test_image_size_and_pooling_name_the_random_encoders_own_folders(tmp_path, capsys):
    """A variant of the random encoder is another encoder: its data and checkpoints never share a
    folder with the default's, and the chain reads them back with the same flags."""
    from tests.conftest import smoke_generate_config
    from train_robots.common.data import read_meta

    flags = dict(image_size=64, pooling="grid2")
    out = generate.main(smoke_generate_config(tmp_path / "data", encoder="vjepa2-random", **flags))
    assert out == tmp_path / "data" / "reacher-easy" / "vjepa2-random-64px-grid2"
    recorded = read_meta(out)["encoder"]
    # 64 px at patch 16: a 4x4 token grid in 2x2 cells of the smoke encoder's 64 features
    assert (recorded["image_size"], recorded["pooling"], recorded["dim"]) == (64, "grid2", 4 * 64)
    assert "64px" in recorded["id"]
    common = dict(task="reacher-easy", encoder="vjepa2-random", preset="smoke", device="cpu")
    folders = dict(data_dir=tmp_path / "data", ckpt_dir=tmp_path / "ckpt")
    metrics = train_bc.main(train_bc.Config(**common, **folders, **flags, epochs=2, eval_episodes=1))
    assert (tmp_path / "ckpt" / "reacher-easy" / "vjepa2-random-64px-grid2" / "bc.pt").exists()
    assert np.isfinite(metrics["mean_return"]) and "BC [vjepa2-random-64px-grid2] success" in capsys.readouterr().out
    assert (metrics["encoder_image_size"], metrics["encoder_pooling"]) == (64, "grid2")  # the metrics name it too
    # The probe reads every pooling: one probe, in the folder without --pooling, serves this variant.
    assert (
        train_bc.Config(**common, **folders, **flags).probe_folder()
        == tmp_path / "ckpt" / "reacher-easy" / "vjepa2-random-64px"
    )
    with pytest.raises(UserError, match="vjepa2-random-64px/meta.json: not found"):
        train_bc.main(train_bc.Config(**common, **folders, image_size=64, epochs=1))  # another variant: no data


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--encoder", "state", "--pooling", "grid2"], "--pooling applies to vjepa2 and vjepa2-random only"),
        (["--encoder", "vjepa2-task", "--image-size", "64"], "keeps the size and pooling it was pretrained with"),
        (["--encoder", "vjepa2-random", "--pooling", "max"], "--pooling: pooling 'max' is unknown"),
        (["--encoder", "vjepa2-random", "--image-size", "8"], "--image-size 8 is too small"),
    ],
)
def test_encoder_variant_flags_that_cannot_apply_are_refused(flags, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.run(generate.main, generate.Config, flags)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
