"""Encoders turn what the robot observes into the latent z_t that every later phase uses.

One interface: `observe(env)` takes what the encoder needs from the environment (an RGB
frame, or the proprioceptive vector), and `encode(batch)` maps a batch of those to float32
latents [B, D].

- `vjepa2`: the pretrained V-JEPA 2 ViT-L (`VJEPA2Model` and its own video processor from
  Hugging Face `transformers`), a hub id or a local directory.
- `vjepa2-random`: the same classes with random weights (seeded, so the same encoder every
  run); its size comes from the preset. The floor of the pixel pipeline, and the tests'.
- `state`: the task's proprioceptive observation vector (an oracle ablation).

A single frame becomes the shortest clip the model takes: the frame repeated
`tubelet_size` (2) times, i.e. one tubelet of a still scene. The latent is the mean of the
encoder's last hidden state over its patch tokens.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass

import numpy as np
import torch

from train_robots.common.envs import ControlEnv
from train_robots.common.presets import Preset
from train_robots.common.runtime import ConfigError, UserError

DEFAULT_VJEPA2_ID = "facebook/vjepa2-vitl-fpc64-256"
ENCODER_NAMES = ("vjepa2", "vjepa2-random", "state")
# The random encoder's weights are a fixed function of this seed, never of the run's seed:
# data, training and evaluation must all see the same encoder.
RANDOM_ENCODER_SEED = 0


class EncoderUnavailable(UserError):
    """The pretrained weights could not be loaded (no network, wrong id or directory)."""


@dataclass(frozen=True)
class EncoderInfo:
    """What identifies an encoder in shards' meta.json and in checkpoints."""

    name: str
    id: str
    dim: int
    image_size: int | None

    def to_dict(self) -> dict:
        return asdict(self)


class Encoder(ABC):
    info: EncoderInfo

    @property
    def uses_pixels(self) -> bool:
        return self.info.image_size is not None

    @property
    def goal_dims(self) -> np.ndarray | None:
        """Boolean mask of the latent dimensions a goal distance compares (None: all of them)."""
        return None

    @abstractmethod
    def observe(self, env: ControlEnv) -> np.ndarray:
        """What this encoder reads from the environment now."""

    @abstractmethod
    def encode(self, batch: np.ndarray) -> np.ndarray:
        """A batch of observations -> float32 latents [B, D]."""


class StateEncoder(Encoder):
    """The proprioceptive observation vector, unchanged."""

    def __init__(self, env: ControlEnv):
        self.info = EncoderInfo(name="state", id=f"state:{env.name}", dim=env.obs_dim, image_size=None)
        self._pose_dims = env.pose_dims()

    @property
    def goal_dims(self) -> np.ndarray:
        """The pose, not the velocities: a goal is an image, and an image shows no velocity
        (comparing velocities made CEM hold still rather than swing toward a distant goal)."""
        return self._pose_dims

    def observe(self, env: ControlEnv) -> np.ndarray:
        return env.observation()

    def encode(self, batch: np.ndarray) -> np.ndarray:
        batch = np.asarray(batch, dtype=np.float32)
        if batch.ndim != 2 or batch.shape[1] != self.info.dim:
            raise ValueError(f"state encoder expects [B, {self.info.dim}], got {batch.shape}")
        return batch


class VJEPA2Encoder(Encoder):
    """A frozen `VJEPA2Model` with its video processor; frames in, mean-pooled tokens out."""

    def __init__(self, model, processor, info: EncoderInfo, device: torch.device, batch_size: int):
        self.model = model.to(device).eval().requires_grad_(False)
        self.processor = processor
        self.info = info
        self.device = device
        self.batch_size = batch_size
        self.tubelet_size = int(model.config.tubelet_size)

    def observe(self, env: ControlEnv) -> np.ndarray:
        return env.render(self.info.image_size)

    @torch.inference_mode()
    def encode(self, batch: np.ndarray) -> np.ndarray:
        frames = np.asarray(batch)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"V-JEPA 2 encoder expects uint8 frames [B, H, W, 3], got {frames.dtype} {frames.shape}")
        out = [self._encode_chunk(frames[i : i + self.batch_size]) for i in range(0, len(frames), self.batch_size)]
        return np.concatenate(out) if out else np.zeros((0, self.info.dim), np.float32)

    def _encode_chunk(self, frames: np.ndarray) -> np.ndarray:
        clips = [np.repeat(f[None], self.tubelet_size, axis=0) for f in frames]  # [T, H, W, 3] each
        # The processor resizes and normalises on the encoder's device (on a GPU it would
        # otherwise bound the throughput of the whole encoder).
        pixels = self.processor(clips, return_tensors="pt", device=self.device)["pixel_values_videos"]
        autocast = torch.autocast("cuda", dtype=torch.bfloat16) if self.device.type == "cuda" else nullcontext()
        with autocast:
            hidden = self.model(pixel_values_videos=pixels, skip_predictor=True).last_hidden_state
        return hidden.float().mean(dim=1).cpu().numpy()


def build_encoder(
    name: str,
    env: ControlEnv,
    preset: Preset,
    device: torch.device,
    encoder_id: str = DEFAULT_VJEPA2_ID,
) -> Encoder:
    """The encoder a command line names (`--encoder`, `--encoder-id`, `--preset`)."""
    if name == "state":
        return StateEncoder(env)
    if name == "vjepa2":
        return _load_pretrained(encoder_id, preset, device)
    if name == "vjepa2-random":
        return _build_random(preset, device)
    raise ConfigError(f"--encoder {name!r} is unknown; choose one of {list(ENCODER_NAMES)}")


def encoder_info(name: str, env: ControlEnv, preset: Preset, encoder_id: str = DEFAULT_VJEPA2_ID) -> EncoderInfo:
    """What `build_encoder` would build, without loading any weights."""
    if name == "state":
        return StateEncoder(env).info
    if name == "vjepa2-random":
        config = random_encoder_config(preset)
        return EncoderInfo(name, _random_id(config, preset), int(config.hidden_size), preset.image_size)
    if name == "vjepa2":
        from transformers import VJEPA2Config

        with _explain_unreachable(encoder_id):
            config = VJEPA2Config.from_pretrained(encoder_id)
        return EncoderInfo(name, encoder_id, int(config.hidden_size), preset.image_size)
    raise ConfigError(f"--encoder {name!r} is unknown; choose one of {list(ENCODER_NAMES)}")


@contextmanager
def _explain_unreachable(encoder_id: str):
    """Turn a failed hub/directory load into an error that says what to do instead."""
    try:
        yield
    except (OSError, ValueError) as err:  # ValueError: huggingface_hub rejects a malformed id
        first_line = str(err).splitlines()[0] if str(err) else ""
        raise EncoderUnavailable(
            f"could not load V-JEPA 2 weights from {encoder_id!r} ({err.__class__.__name__}: "
            f"{first_line}).\nThis machine may have no access to the Hugging Face hub. Either "
            "pass a local copy with `--encoder-id /local/dir` (a directory written by "
            "save_pretrained, holding config.json, the weights and the video processor "
            "config), or run without pretrained weights with `--encoder state` (or "
            "`--encoder vjepa2-random`)."
        ) from err


def _load_pretrained(encoder_id: str, preset: Preset, device: torch.device) -> VJEPA2Encoder:
    from transformers import AutoVideoProcessor, VJEPA2Model

    with _explain_unreachable(encoder_id):
        model = VJEPA2Model.from_pretrained(encoder_id)
        processor = AutoVideoProcessor.from_pretrained(encoder_id, crop_size=preset.image_size)
    info = EncoderInfo("vjepa2", encoder_id, int(model.config.hidden_size), preset.image_size)
    return VJEPA2Encoder(model, processor, info, device, preset.encode_batch)


def random_encoder_config(preset: Preset):
    """The `VJEPA2Config` of `vjepa2-random` at a preset (ViT-L defaults plus overrides)."""
    from transformers import VJEPA2Config

    return VJEPA2Config(crop_size=preset.image_size, **preset.random_encoder)


def _build_random(preset: Preset, device: torch.device) -> VJEPA2Encoder:
    from transformers import VJEPA2Model, VJEPA2VideoProcessor

    config = random_encoder_config(preset)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_ENCODER_SEED)
        model = VJEPA2Model(config)
    processor = VJEPA2VideoProcessor(crop_size=preset.image_size)
    info = EncoderInfo("vjepa2-random", _random_id(config, preset), int(config.hidden_size), preset.image_size)
    return VJEPA2Encoder(model, processor, info, device, preset.encode_batch)


def _random_id(config, preset: Preset) -> str:
    return (
        f"random-seed{RANDOM_ENCODER_SEED}-w{config.hidden_size}-l{config.num_hidden_layers}"
        f"-h{config.num_attention_heads}-{preset.image_size}px"
    )
