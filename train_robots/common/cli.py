"""Command-line entry shared by the phase scripts (tyro over a dataclass config)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import tyro

from train_robots.common.allocator import keep_freed_memory
from train_robots.common.runtime import UserError

T = TypeVar("T")


def parse(config_type: type[T], args: Sequence[str] | None = None) -> T:
    """Parse `--flags` into a config; `args=None` reads sys.argv (Modal passes its own)."""
    return tyro.cli(config_type, args=None if args is None else list(args))


def run(main: Callable[[T], Any], config_type: type[T], args: Sequence[str] | None = None) -> Any:
    """Parse flags and run `main`; a UserError prints one clear line and exits with status 2."""
    config = parse(config_type, args)
    keep_freed_memory()
    try:
        return main(config)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
