"""The shared run flags: checked once for every script; a bad one is one line of error and exit status 2."""

import importlib
import subprocess
import sys

import pytest

from train_robots import train_bc
from train_robots.common import cli
from train_robots.common.runtime import REPO_ROOT

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
