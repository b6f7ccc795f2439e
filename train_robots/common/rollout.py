"""Closed-loop evaluation shared by every controller (BC, planners, SAC, the expert).

N episodes run in lockstep (`parallel`, default: all of them): at each step the N
environments are read (rendered, for a pixel encoder), their observations encoded in one
batched encoder call (a pixel encoder sees each as the clip (previous frame, current frame)), and the controller acts for all N in one batched call; then each
environment steps. The same path the robot would run, encoder in the loop, at the batch
sizes that keep a CPU or GPU busy. Episodes start from evaluation seeds
(`episode_seed(seed, i, "eval")`), a stream disjoint from the data-collection seeds, so no
evaluation episode replays a training one; an episode's result does not depend on N (its
controller's randomness is seeded by its own seed), up to float rounding of batched products.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from tqdm import tqdm

from train_robots.common.encoders import Encoder
from train_robots.common.envs import ControlEnv
from train_robots.common.experts import Expert
from train_robots.common.runtime import ConfigError, atomic_write_bytes, episode_seed, write_figure

GIF_SIZE = 128
"""Pixels of the first episode's GIF frames."""
CPU_MEMORY_BUDGET = 384 << 20
"""Bytes the controllers of the episodes run in parallel may hold on a CPU. Not a memory limit but
a speed one: past it the planners' imagined latents outgrow the caches, and a plan per problem
slows down (pure CEM at D = 4096, 37.7 MB a problem, on this workplace's CPU: 141-147 ms a plan
and problem at 5-10 problems in a batch, 201 at 25, 301 at 50; `bench.py --sections
planner_lockstep`). 384 MiB holds 10 such problems."""


class Controller(Protocol):
    def reset(self, envs: Sequence[ControlEnv], seeds: Sequence[int]) -> None:
        """Called right after `envs[i].reset(seeds[i])` for a batch of episode starts (planners
        build goals here, and seed each episode's random stream with its seed)."""

    def act(self, z: np.ndarray) -> np.ndarray:
        """Latents [N, D] float32 -> actions [N, A] within the action bounds."""


class ExpertController:
    """The task's expert behind the Controller interface: it reads the physics (or the state), not z.

    Evaluating it through `evaluate` puts the expert in the same table as learned controllers.
    """

    def __init__(self, expert: Expert):
        self.expert = expert
        self.envs: Sequence[ControlEnv] = ()
        self.step = 0

    def reset(self, envs: Sequence[ControlEnv], seeds: Sequence[int]) -> None:
        self.envs, self.step = envs, 0

    def act(self, z: np.ndarray) -> np.ndarray:
        if not self.envs:
            raise RuntimeError("ExpertController.act called before reset(envs, seeds)")
        actions = np.stack([self.expert.act(env, self.step) for env in self.envs])
        self.step += 1
        return actions


def evaluate(
    env: ControlEnv,
    encoder: Encoder,
    controller: Controller,
    episodes: int,
    episode_steps: int,
    seed: int,
    parallel: int | None = None,
    gif_path: Path | None = None,
    plot_path: Path | None = None,
    desc: str = "eval",
    stream: str = "eval",
    first_episode: int = 0,
) -> dict:
    """Run `episodes` closed-loop episodes, `parallel` at a time; return flat metrics.

    `env` is the first of the environments (the others are made like it). An episode is solved
    if any of its steps earned the full reward. `ms_per_action` is the controller's time per
    action of one episode (batch time / N), `ms_per_batch` the whole batched call, and
    `ms_per_step` observe + encode + act per episode and step (not the physics). `stream` and
    `first_episode` pick the starts: episodes first_episode, first_episode + 1, ... of that seed
    stream (DAgger's rollouts use their own, so they never visit an evaluation start).
    """
    if episodes < 1 or episode_steps < 1:
        raise ValueError(f"evaluate needs episodes >= 1 and episode_steps >= 1, got {episodes}, {episode_steps}")
    width = episodes if parallel is None else max(1, min(int(parallel), episodes))
    envs = environments(env, width)
    seeds = [episode_seed(seed, first_episode + i, stream) for i in range(episodes)]
    returns, solved = np.zeros(episodes), np.zeros(episodes, bool)
    act_seconds, step_seconds, batch_sizes = [], [], []
    frames: list[np.ndarray] = []
    progress = tqdm(total=episodes * episode_steps, desc=desc, unit="step")
    for first in range(0, episodes, width):
        batch = slice(first, min(first + width, episodes))
        active = envs[: batch.stop - first]
        for env_i, episode in zip(active, seeds[batch]):
            env_i.reset(episode)
        controller.reset(active, seeds[batch])
        previous = None  # the observations of the step before (pixel encoders see both: motion)
        for t in range(episode_steps):
            if gif_path is not None and first == 0:
                frames.append(active[0].render(GIF_SIZE))
            start = time.perf_counter()
            current = np.stack([encoder.observe(env_i) for env_i in active])
            z = encoder.encode(encoder.motion_inputs(current if previous is None else previous, current))
            previous = current
            acted = time.perf_counter()
            actions = controller.act(z)
            done = time.perf_counter()
            act_seconds.append(done - acted)
            step_seconds.append(done - start)
            batch_sizes.append(len(active))
            for i, env_i in enumerate(active):
                result = env_i.step(actions[i])
                returns[first + i] += result.reward
                solved[first + i] |= result.solved
            progress.update(len(active))
            if t % 10 == 9 or t + 1 == episode_steps:
                finished = batch.stop if t + 1 == episode_steps else first
                progress.set_postfix(_running(returns, solved, finished, batch.stop, episodes, env.spec.has_success))
    progress.close()
    if gif_path is not None:
        save_gif(Path(gif_path), frames, fps=1.0 / (env.control_timestep * env.spec.action_repeat))
    successes = [bool(s) for s in solved] if env.spec.has_success else None  # locomotion: a return only
    if plot_path is not None:
        save_returns_plot(Path(plot_path), list(returns), successes, title=desc)
    per_episode = np.asarray(act_seconds) / np.asarray(batch_sizes)
    return {
        "episodes": episodes,
        "episode_steps": episode_steps,
        "episodes_in_parallel": width,
        "success_rate": None if successes is None else float(np.mean(successes)),
        "mean_return": float(np.mean(returns)),
        "std_return": float(np.std(returns)),
        "ms_per_action": 1000.0 * float(np.mean(per_episode)),
        "ms_per_batch": 1000.0 * float(np.mean(act_seconds)),
        "ms_per_step": 1000.0 * float(np.mean(np.asarray(step_seconds) / np.asarray(batch_sizes))),
        "seeds": seeds,
        "encoder": encoder.info.name,
        # A variant of one encoder (--image-size, --pooling) is another latent: name it too.
        "encoder_image_size": encoder.info.image_size,
        "encoder_pooling": encoder.info.pooling,
        "returns": [float(r) for r in returns],
        "successes": successes,
        # Indices among the seed's episodes (as --first-episode counts them), to replay a miss alone.
        "missed_episodes": None if successes is None else [first_episode + i for i, s in enumerate(successes) if not s],
    }


_POOL: dict[str, list[ControlEnv]] = {}


def environments(env: ControlEnv, n: int) -> list[ControlEnv]:
    """`env` and n - 1 more of its task, kept for later evaluations (loading a task takes about
    0.1 s; every use resets them by seed, so nothing carries over)."""
    pool = _POOL.setdefault(env.name, [])
    pool += [ControlEnv(env.name) for _ in range(n - 1 - len(pool))]
    return [env] + pool[: n - 1]


def episodes_in_parallel(
    requested: int | None, episodes: int, bytes_per_episode: int = 0, device: torch.device | None = None
) -> int:
    """How many episodes to run in lockstep: `requested` (a --parallel flag), else all of them,
    or as many as fit a memory budget (half the free GPU memory, or CPU_MEMORY_BUDGET on a CPU) when
    each episode's controller holds `bytes_per_episode`."""
    if requested is not None:
        if requested < 1:
            raise ConfigError(f"--parallel must be at least 1, got {requested}")
        return min(requested, episodes)
    if device is not None and device.type == "cuda":
        budget = torch.cuda.mem_get_info(device)[0] // 2
    else:
        budget = CPU_MEMORY_BUDGET
    return max(1, min(episodes, budget // max(bytes_per_episode, 1)))


def _running(
    returns: np.ndarray, solved: np.ndarray, finished: int, started: int, episodes: int, has_success: bool
) -> dict:
    """The progress bar's figures: episodes finished, and the success (where the task has one)
    and mean return so far of every episode started."""
    solved_so_far = {"solved": f"{np.mean(solved[:started]):.0%}"} if has_success else {}
    return {"done": f"{finished}/{episodes}", **solved_so_far, "ret": f"{np.mean(returns[:started]):.0f}"}


def format_success(rate: float | None) -> str:
    """A success rate as a percentage, or n/a for a task without success (locomotion)."""
    return "n/a" if rate is None else f"{rate:.0%}"


def save_gif(path: Path, frames: list[np.ndarray], fps: float) -> None:
    """Frames as a looping GIF, written atomically (GIF, not MP4: imageio-ffmpeg is not a dependency)."""
    import imageio.v3 as iio

    data = iio.imwrite("<bytes>", np.stack(frames), extension=".gif", duration=1000.0 / fps, loop=0)
    atomic_write_bytes(path, data)


def save_returns_plot(path: Path, returns: list[float], successes: list[bool] | None, title: str) -> None:
    """A bar per episode, green if solved (grey where the task has no success), written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    colors = ["tab:gray"] * len(returns) if successes is None else ["tab:green" if s else "tab:red" for s in successes]
    ax.bar(np.arange(len(returns)), returns, color=colors)
    ax.axhline(float(np.mean(returns)), color="black", linestyle="--", label=f"mean {np.mean(returns):.0f}")
    solved = "" if successes is None else f": {np.mean(successes):.0%} solved"
    ax.set(xlabel="evaluation episode", ylabel="return", title=f"{title}{solved}")
    ax.legend()
    fig.tight_layout()
    write_figure(path, fig)
