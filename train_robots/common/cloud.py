"""The Modal image, volumes and GPU settings every phase script reuses.

Defining these needs neither credentials nor network, so every script (and the tests)
can import its Modal app offline. `modal run train_robots/<script>.py ...` then builds
the image once, mounts the volumes and runs the same `main(config)` as the local path:
each script declares its app with `phase_app` (or `PhaseApp`, for more than one function).
"""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import modal

from train_robots.common import cli
from train_robots.common.allocator import keep_freed_memory
from train_robots.common.runtime import REPO_ROOT

DEFAULT_GPU = "A10"
"""Modal's name for the A10G class the roadmap's 100k-transition run used (24 GB)."""

REMOTE_ROOT = PurePosixPath("/vol")
REMOTE_DATA_DIR = REMOTE_ROOT / "data"
REMOTE_CKPT_DIR = REMOTE_ROOT / "checkpoints"
HF_CACHE_DIR = PurePosixPath("/hf-cache")

DATA_VOLUME = "train-robots-data"
data_volume = modal.Volume.from_name(DATA_VOLUME, create_if_missing=True)
"""Holds data/ and checkpoints/ between runs (`modal volume get train-robots-data ...`)."""
hf_cache_volume = modal.Volume.from_name("train-robots-hf-cache", create_if_missing=True)
"""The Hugging Face cache, so the V-JEPA 2 weights are downloaded once."""

VOLUMES = {str(REMOTE_ROOT): data_volume, str(HF_CACHE_DIR): hf_cache_volume}

image = (
    modal.Image.debian_slim(python_version="3.11")
    # EGL + GL dispatch libraries: MuJoCo renders headless through the NVIDIA driver.
    .apt_install("libegl1", "libgl1", "libglvnd0", "libopengl0")
    .pip_install_from_requirements(str(REPO_ROOT / "requirements.txt"))
    .env({"MUJOCO_GL": "egl", "HF_HOME": str(HF_CACHE_DIR), "PYTHONUNBUFFERED": "1"})
    .add_local_python_source("train_robots")
)


def run_on_volume(target: str, config_type: str, args: list[str], *extra: Any) -> Any:
    """What every Modal function runs in its container: parse the command line's flags with the
    script's own Config, point it at the GPU and the volume, call `target(config, *extra)`.

    Registered by `PhaseApp.add` for every script (a module-level function is what a container can
    import); `target` and `config_type` are `module:name` references (see `reference`)."""
    cfg = cli.parse(_resolve(config_type), args).on_volume()
    keep_freed_memory()
    try:
        return _resolve(target)(cfg, *extra)
    finally:
        data_volume.commit()  # keep what was written, even when the run fails late


def reference(obj: Callable | type) -> str:
    """`package.module:name` of a function or class of this repository, importable in a container
    whatever name its script was loaded under here (`__main__` under python, its stem under modal)."""
    path = Path(inspect.getfile(obj)).resolve().relative_to(REPO_ROOT).with_suffix("")
    return f"{'.'.join(path.parts)}:{obj.__qualname__}"


def _resolve(ref: str) -> Any:
    module, name = ref.split(":")
    return getattr(importlib.import_module(module), name)


class PhaseApp:
    """A phase script's Modal app: `modal run train_robots/<script>.py --flags` parses the flags here
    (a bad one fails before any container starts), then runs the script's functions on Modal GPUs.

    `add` lets a function of the script run in a container; `entrypoint` sets what the local side
    does with the parsed config and the raw flags (containers re-parse the same flags)."""

    def __init__(self, name: str, config_type: type):
        self.app = modal.App(name, image=image)
        self.config_type = config_type
        self.functions: dict[str, modal.Function] = {}
        """The Modal functions, by the name of the script's function each runs."""
        self._on_gpu: set[str] = set()
        self._flow: Callable[[Any, list[str]], None] | None = None

    def add(self, target: Callable, timeout: int, gpu: bool = True) -> None:
        """Let `target(config, *extra)` run in a container for up to `timeout` seconds."""
        name = target.__name__
        self.functions[name] = self.app.function(
            name=name, gpu=DEFAULT_GPU if gpu else None, volumes=VOLUMES, timeout=timeout
        )(run_on_volume)
        if gpu:
            self._on_gpu.add(name)

    def call(self, target: Callable, cfg: Any, args: list[str], *extra: Any) -> Any:
        """Run `target` in one container and return its result."""
        return self._function(target, cfg).remote(reference(target), reference(self.config_type), args, *extra)

    def map(self, target: Callable, cfg: Any, args: list[str], items: list[Any]) -> Iterator[Any]:
        """Run `target(config, item)` for every item, in parallel containers; results in order."""
        calls = [(reference(target), reference(self.config_type), args, item) for item in items]
        return self._function(target, cfg).starmap(calls)

    def entrypoint(self, flow: Callable[[Any, list[str]], None]) -> None:
        """Make `flow(config, flags)` what `modal run` does here."""
        self._flow = flow
        self.app.local_entrypoint(name="modal_main")(self.local_main)

    def local_main(self, *arglist: str) -> None:
        """`modal run`'s entry: a bad flag fails here, before any container starts."""
        self._flow(cli.parse(self.config_type, arglist), list(arglist))

    def _function(self, target: Callable, cfg: Any) -> modal.Function:
        function = self.functions[target.__name__]
        return function.with_options(gpu=cfg.gpu) if target.__name__ in self._on_gpu else function


def phase_app(
    name: str, config_type: type, main: Callable, timeout: int, report: Callable[[Any, Any], None] | None = None
) -> PhaseApp:
    """The usual app: `main(config)` on one GPU container, then `report(config, result)` here
    (default: the result's flat figures)."""
    phase = PhaseApp(name, config_type)
    phase.add(main, timeout)
    show = report or print_summary
    phase.entrypoint(lambda cfg, args: show(cfg, phase.call(main, cfg, args)))
    return phase


def print_summary(cfg: Any, result: dict) -> None:
    """The flat figures of a phase's metrics, and where its files are."""
    print(json.dumps({k: v for k, v in result.items() if isinstance(v, int | float | str | bool)}, indent=2))
    print(
        f"files: `modal volume get {DATA_VOLUME} checkpoints/{cfg.task}/{cfg.encoder_folder()} ./checkpoints/{cfg.task}/` "
        "fetches them"
    )
