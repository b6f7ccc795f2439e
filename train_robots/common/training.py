"""Training helpers every learner shares: episode splits, NaN guards, curve plots."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from train_robots.common.runtime import UserError, write_figure


class TrainingError(UserError, RuntimeError):
    """Training cannot go on (too little data, a NaN loss); the message says why."""


def split_episodes(num_episodes: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle episode indices and split them into (train, validation), never empty."""
    if num_episodes < 2:
        raise TrainingError(
            f"the dataset has {num_episodes} episode(s); validation is split by episode, so at least "
            "2 are needed (generate more with --episodes)"
        )
    order = np.random.default_rng(seed).permutation(num_episodes)
    n_val = min(max(1, round(val_fraction * num_episodes)), num_episodes - 1)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def check_finite(loss: float, step: int, batch: int | str, last_good: Path | None = None) -> None:
    """Stop the run on a NaN/inf loss, naming the step and batch and the checkpoint kept."""
    if math.isfinite(loss):
        return
    kept = f"; the last good checkpoint is kept at {last_good}" if last_good is not None else ""
    raise TrainingError(f"loss became {loss} at step {step} (batch {batch}){kept}")


def save_curves(
    path: Path, curves: dict[str, list[float]], xlabel: str, ylabel: str, title: str, logy: bool = False
) -> None:
    """A line plot of named curves, written atomically as PNG."""

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, values in curves.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=name)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    write_figure(path, fig)


def save_panels(path: Path, panels: dict[str, dict[str, tuple[list[float], list[float]]]], xlabel: str) -> None:
    """Side-by-side line plots, one per titled panel, each of named (x, y) series; written atomically
    as PNG. A panel title ending in "(log)" gets a log y axis."""

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.8), squeeze=False)
    for ax, (title, series) in zip(axes[0], panels.items()):
        for name, (x, y) in series.items():
            ax.plot(x, y, label=name, marker="o" if len(x) < 20 else None, markersize=3)
        ax.set(xlabel=xlabel, title=title)
        if title.endswith("(log)"):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        if len(series) > 1:
            ax.legend(fontsize=7)
    fig.tight_layout()
    write_figure(path, fig)
