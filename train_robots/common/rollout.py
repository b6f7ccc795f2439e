"""Closed-loop evaluation shared by every controller (BC, planners, SAC, the expert).

Each step renders/reads what the encoder observes, encodes it to a latent z, and asks the
controller for an action: the same path the robot would run, encoder in the loop. Episodes
start from evaluation seeds (`episode_seed(seed, i, "eval")`), a stream disjoint from the
data-collection seeds, so no evaluation episode replays a training one.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm import tqdm

from train_robots.common.encoders import Encoder
from train_robots.common.envs import ControlEnv
from train_robots.common.experts import make_expert
from train_robots.common.runtime import atomic_write_bytes, episode_seed

GIF_SIZE = 128
"""Pixels of the first episode's GIF frames."""


class Controller(Protocol):
    def reset(self, env: ControlEnv) -> None:
        """Called right after `env.reset(seed)` at each episode start (planners build goals here)."""

    def act(self, z: np.ndarray) -> np.ndarray:
        """Latent [D] float32 -> action [A] within the action bounds."""


class ExpertController:
    """The task's scripted expert behind the Controller interface: it reads the physics, not z.

    Evaluating it through `evaluate` puts the expert in the same table as learned controllers.
    """

    def __init__(self, task: str):
        self.expert = make_expert(task)
        self.env: ControlEnv | None = None
        self.step = 0

    def reset(self, env: ControlEnv) -> None:
        self.env, self.step = env, 0

    def act(self, z: np.ndarray) -> np.ndarray:
        if self.env is None:
            raise RuntimeError("ExpertController.act called before reset(env)")
        action = self.expert.act(self.env, self.step)
        self.step += 1
        return action


def evaluate(
    env: ControlEnv,
    encoder: Encoder,
    controller: Controller,
    episodes: int,
    episode_steps: int,
    seed: int,
    gif_path: Path | None = None,
    plot_path: Path | None = None,
    desc: str = "eval",
) -> dict:
    """Run `episodes` closed-loop episodes; return flat metrics (see the module docstring).

    An episode is solved if any of its steps earned the full reward. `ms_per_action` times
    the controller alone; `ms_per_step` times observe + encode + act (not the physics).
    """
    if episodes < 1 or episode_steps < 1:
        raise ValueError(f"evaluate needs episodes >= 1 and episode_steps >= 1, got {episodes}, {episode_steps}")
    seeds = [episode_seed(seed, i, "eval") for i in range(episodes)]
    returns, successes, act_seconds, step_seconds = [], [], [], []
    frames: list[np.ndarray] = []
    progress = tqdm(seeds, desc=desc, unit="ep")
    for index, episode in enumerate(progress):
        env.reset(episode)
        controller.reset(env)
        total, solved = 0.0, False
        for _ in range(episode_steps):
            if gif_path is not None and index == 0:
                frames.append(env.render(GIF_SIZE))
            start = time.perf_counter()
            z = encoder.encode(encoder.observe(env)[None])[0]
            acted = time.perf_counter()
            action = controller.act(z)
            done = time.perf_counter()
            act_seconds.append(done - acted)
            step_seconds.append(done - start)
            result = env.step(action)
            total += result.reward
            solved |= result.solved
        returns.append(total)
        successes.append(bool(solved))
        progress.set_postfix(ret=f"{total:.0f}", success=f"{np.mean(successes):.0%}")
    if gif_path is not None:
        save_gif(Path(gif_path), frames, fps=1.0 / (env.control_timestep * env.spec.action_repeat))
    if plot_path is not None:
        save_returns_plot(Path(plot_path), returns, successes, title=desc)
    return {
        "episodes": episodes,
        "episode_steps": episode_steps,
        "success_rate": float(np.mean(successes)),
        "mean_return": float(np.mean(returns)),
        "std_return": float(np.std(returns)),
        "ms_per_action": 1000.0 * float(np.mean(act_seconds)),
        "ms_per_step": 1000.0 * float(np.mean(step_seconds)),
        "seeds": seeds,
        "encoder": encoder.info.name,
        "returns": [float(r) for r in returns],
        "successes": successes,
    }


def save_gif(path: Path, frames: list[np.ndarray], fps: float) -> None:
    """Frames as a looping GIF, written atomically (GIF, not MP4: imageio-ffmpeg is not a dependency)."""
    import imageio.v3 as iio

    data = iio.imwrite("<bytes>", np.stack(frames), extension=".gif", duration=1000.0 / fps, loop=0)
    atomic_write_bytes(path, data)


def save_returns_plot(path: Path, returns: list[float], successes: list[bool], title: str) -> None:
    """A bar per episode, green if solved, written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    colors = ["tab:green" if s else "tab:red" for s in successes]
    ax.bar(np.arange(len(returns)), returns, color=colors)
    ax.axhline(float(np.mean(returns)), color="black", linestyle="--", label=f"mean {np.mean(returns):.0f}")
    ax.set(xlabel="evaluation episode", ylabel="return", title=f"{title}: {np.mean(successes):.0%} solved")
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
