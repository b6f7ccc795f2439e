"""Named size presets: `smoke` (seconds, the tests), `cpu` (minutes on a 2-core laptop),
`full` (paper scale: 100k transitions, ViT-L at 256 px; for a GPU or Modal).

A script's config leaves a sized field at None to take it from the preset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from train_robots.common.runtime import ConfigError


@dataclass(frozen=True)
class Preset:
    name: str
    image_size: int
    """Encoder input size in pixels (frames are rendered at this size)."""
    episodes: int
    """Data-collection episodes."""
    episode_steps: int
    """Agent steps per data-collection episode (a full suite episode is 500 at repeat 2)."""
    shard_episodes: int
    """Episodes per shard file (few large shards, not a file per episode)."""
    encode_batch: int
    """Frames per encoder forward pass."""
    eval_episodes: int
    """Closed-loop evaluation episodes."""
    eval_episode_steps: int
    """Agent steps per evaluation episode."""
    random_encoder: dict = field(default_factory=dict)
    """VJEPA2Config overrides for `vjepa2-random` (the pretrained model fixes its own)."""


PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        name="smoke",
        image_size=32,
        episodes=4,
        episode_steps=25,
        shard_episodes=2,
        encode_batch=16,
        eval_episodes=2,
        eval_episode_steps=25,
        random_encoder=dict(
            hidden_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            pred_hidden_size=32,
            pred_num_hidden_layers=1,
            pred_num_attention_heads=2,
        ),
    ),
    "cpu": Preset(
        name="cpu",
        image_size=128,
        episodes=40,
        episode_steps=250,
        shard_episodes=10,
        encode_batch=32,
        eval_episodes=50,
        eval_episode_steps=500,
        # ViT-L width (D = 1024, as the pretrained latent) but 2 of its 24 blocks: a random
        # encoder is a floor for the pixel pipeline, and depth only costs time here.
        random_encoder=dict(num_hidden_layers=2, pred_num_hidden_layers=1),
    ),
    "full": Preset(
        name="full",
        image_size=256,
        episodes=200,
        episode_steps=500,
        shard_episodes=10,
        encode_batch=64,
        eval_episodes=50,
        eval_episode_steps=500,
        random_encoder=dict(),  # the full ViT-L
    ),
}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ConfigError(f"--preset {name!r} is unknown; choose one of {sorted(PRESETS)}")
    return PRESETS[name]
