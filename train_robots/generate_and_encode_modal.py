"""Phases 1-2: see, explore and remember.

Rolls the task's expert with epsilon-greedy random actions (30% by default), encodes every
observation with the chosen encoder, and writes shards of whole episodes plus meta.json
to `<data-dir>/<task>/<encoder>/` (schema in train_robots/common/data.py). Every step also
stores the expert's own action. The expert is reacher's scripted one, or walker's and
cheetah's SAC expert from `<ckpt-dir>/<task>/expert/expert.pt` (train_expert.py); meta.json
records its id, and a folder refuses shards of another expert.

    python train_robots/generate_and_encode_modal.py --task reacher-easy --encoder state --preset cpu
    modal run train_robots/generate_and_encode_modal.py --task reacher-easy --encoder vjepa2 --preset full

Deterministic for a seed. Resumable: a rerun skips finished shards; shards are renamed into
place only when complete. On Modal, shards fan out over GPU containers with `.map`; the
data lands on the `train-robots-data` volume.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from any directory

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from train_robots.common import cli, cloud  # noqa: E402
from train_robots.common.data import ensure_meta, read_meta, save_shard, shard_path  # noqa: E402
from train_robots.common.encoders import Encoder, EncoderInfo  # noqa: E402
from train_robots.common.envs import ControlEnv  # noqa: E402
from train_robots.common.experts import Expert  # noqa: E402
from train_robots.common.presets import Preset, sizes_for  # noqa: E402
from train_robots.common.run_config import RunConfig  # noqa: E402
from train_robots.common.runtime import ConfigError, code_version, episode_seed, resolve_device  # noqa: E402


@dataclass
class Config(RunConfig):
    episodes: int | None = None
    """Episodes to collect (default: from the preset; cpu, reacher, pixel encoders: 2400)."""
    episode_steps: int | None = None
    """Agent steps per episode (default: from the preset; cpu, reacher, pixel encoders: 50)."""
    shard_episodes: int | None = None
    """Episodes per shard file (default: from the preset)."""
    epsilon: float = 0.3
    """Probability of replacing the expert's action by a uniform random one."""
    thumbnail_size: int = 0
    """Also store RGB thumbnails of this size in the shards (0: none)."""

    def sizes(self) -> Preset:
        """The task's preset with this config's explicit sizes applied."""
        preset = sizes_for(self.preset, self.task, self.encoder)
        overrides = {
            k: getattr(self, k) for k in ("episodes", "episode_steps", "shard_episodes") if getattr(self, k) is not None
        }
        return replace(preset, **overrides)

    def validate(self) -> None:
        super().validate()
        sizes = self.sizes()
        if not 0.0 <= self.epsilon <= 1.0:
            raise ConfigError(f"--epsilon must lie in [0, 1], got {self.epsilon}")
        for name in ("episodes", "episode_steps", "shard_episodes"):
            if getattr(sizes, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(sizes, name)}")
        if self.thumbnail_size < 0:
            raise ConfigError(f"--thumbnail-size must be >= 0, got {self.thumbnail_size}")


def dataset_meta(cfg: Config, env: ControlEnv, info: EncoderInfo, expert: Expert) -> dict:
    """meta.json of the folder this config writes."""
    sizes = cfg.sizes()
    return {
        "task": cfg.task,
        "encoder": info.to_dict(),
        "latent_dim": info.dim,
        "image_size": info.image_size,
        "action_dim": env.action_dim,
        "physics_dim": env.state_dim,
        "action_repeat": env.spec.action_repeat,
        "episode_steps": sizes.episode_steps,
        "shard_episodes": sizes.shard_episodes,
        "episodes": sizes.episodes,
        "transitions": sizes.episodes * sizes.episode_steps,
        "epsilon": cfg.epsilon,
        "seed": cfg.seed,
        "preset": cfg.preset,
        "expert": type(expert).__name__,
        "expert_id": expert.id,
        "code_version": code_version(),
    }


def collect_episode(
    env: ControlEnv, encoder: Encoder, expert: Expert, cfg: Config, seed: int, steps: int
) -> dict[str, np.ndarray]:
    """One epsilon-greedy expert episode, its observations encoded."""
    rng = np.random.default_rng(seed)
    env.reset(seed)
    observations, physics, frames = [], [], []
    actions, expert_actions, is_random, rewards, discounts = [], [], [], [], []
    for t in range(steps + 1):
        observations.append(encoder.observe(env))
        physics.append(env.get_state())
        if cfg.thumbnail_size:
            frames.append(env.render(cfg.thumbnail_size))
        if t == steps:
            break
        expert_action = expert.act(env, t)
        explore = rng.random() < cfg.epsilon
        action = rng.uniform(env.action_low, env.action_high).astype(np.float32) if explore else expert_action
        result = env.step(action)
        actions.append(action)
        expert_actions.append(expert_action)
        is_random.append(explore)
        rewards.append(result.reward)
        discounts.append(result.discount)
    episode = {
        "z": encoder.encode(encoder.episode_inputs(np.stack(observations))).astype(np.float16),
        "action": np.stack(actions).astype(np.float32),
        "reward": np.asarray(rewards, np.float32),
        "discount": np.asarray(discounts, np.float32),
        "expert_action": np.stack(expert_actions).astype(np.float32),
        "is_random": np.asarray(is_random, bool),
        "physics": np.stack(physics).astype(np.float64),
    }
    if cfg.thumbnail_size:
        episode["frame"] = np.stack(frames)
    return episode


def shard_episode_indices(cfg: Config, shard_index: int) -> range:
    sizes = cfg.sizes()
    start = shard_index * sizes.shard_episodes
    return range(start, min(start + sizes.shard_episodes, sizes.episodes))


def generate_shard(
    cfg: Config, shard_index: int, env: ControlEnv, encoder: Encoder, progress: tqdm | None = None
) -> dict[str, np.ndarray]:
    """The arrays of one shard: a pure function of the config, the expert and the shard index."""
    expert = cfg.expert()
    episodes = []
    for index in shard_episode_indices(cfg, shard_index):
        seed = episode_seed(cfg.seed, index, "data")
        episodes.append(collect_episode(env, encoder, expert, cfg, seed, cfg.sizes().episode_steps))
        if progress is not None:
            progress.update(1)
    return {key: np.stack([ep[key] for ep in episodes]) for key in episodes[0]}


def shard_is_done(path: Path, expected_episodes: int) -> bool:
    """A finished shard exists under its final name with the expected episode count."""
    if not path.exists():
        return False
    with np.load(path) as npz:
        return npz["reward"].shape[0] == expected_episodes


def num_shards(cfg: Config) -> int:
    sizes = cfg.sizes()
    return -(-sizes.episodes // sizes.shard_episodes)


def prepare(cfg: Config) -> list[int]:
    """Write meta.json (refusing to mix tasks, encoders, experts or sizes in one folder); the shards still to write."""
    cfg.validate()
    env = ControlEnv(cfg.task)
    out = cfg.dataset_folder()
    info = cfg.encoder_info(env, cfg.sizes())
    ensure_meta(out, dataset_meta(cfg, env, info, cfg.expert()))
    return [
        i for i in range(num_shards(cfg)) if not shard_is_done(shard_path(out, i), len(shard_episode_indices(cfg, i)))
    ]


def main(cfg: Config) -> Path:
    """Generate (or finish) the dataset of `cfg`; returns its folder."""
    todo = prepare(cfg)
    sizes = cfg.sizes()
    out = cfg.dataset_folder()
    done_episodes = sizes.episodes - sum(len(shard_episode_indices(cfg, i)) for i in todo)
    print(f"{out}: {len(todo)} of {num_shards(cfg)} shards to write ({cfg.encoder_folder()}, {sizes.name} preset)")
    if todo:
        env = ControlEnv(cfg.task)
        encoder = cfg.build_encoder(env, sizes, resolve_device(cfg.device))
        with tqdm(total=sizes.episodes, initial=done_episodes, desc="episodes", unit="ep") as progress:
            for i in todo:
                save_shard(shard_path(out, i), generate_shard(cfg, i, env, encoder, progress), read_meta(out))
    return out


# ---------------------------------------------------------------- Modal (cloud GPUs)

_ENCODERS: dict[tuple, tuple[ControlEnv, Encoder]] = {}


def write_shard(cfg: Config, shard_index: int) -> str:
    """Generate and save one shard (on Modal: one per GPU container call); returns its path."""
    key = (cfg.task, cfg.encoder_folder(), cfg.encoder_source(), cfg.preset, cfg.device)
    if key not in _ENCODERS:  # one encoder per container, reused across its shards
        env = ControlEnv(cfg.task)
        _ENCODERS[key] = (
            env,
            cfg.build_encoder(env, cfg.sizes(), resolve_device(cfg.device)),
        )
    env, encoder = _ENCODERS[key]
    out = cfg.dataset_folder()
    path = shard_path(out, shard_index)
    save_shard(path, generate_shard(cfg, shard_index, env, encoder), read_meta(out))
    return str(path)


def run_on_modal(cfg: Config, args: list[str]) -> None:
    """meta.json first (one small container), then the shards fanned out over GPU containers."""
    todo = phase.call(prepare, cfg, args)
    print(f"{len(todo)} of {num_shards(cfg)} shards to write on Modal ({cfg.gpu})")
    for path in tqdm(phase.map(write_shard, cfg, args, todo), total=len(todo), desc="shards"):
        print(f"wrote {path}")


phase = cloud.PhaseApp("train-robots-generate", Config)
phase.add(prepare, timeout=600, gpu=False)
phase.add(write_shard, timeout=3 * 3600)
phase.entrypoint(run_on_modal)
app = phase.app

if __name__ == "__main__":
    cli.run(main, Config)
