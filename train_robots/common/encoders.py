"""Encoders turn what the robot observes into the latent z_t that every later phase uses.

One interface: `observe(env)` takes what the encoder needs from the environment (an RGB
frame, or the proprioceptive vector), and `encode(batch)` maps a batch of those to float32
latents [B, D].

- `vjepa2`: the pretrained V-JEPA 2 ViT-L (`VJEPA2Model` and its own video processor from
  Hugging Face `transformers`), a hub id or a local directory.
- `vjepa2-random`: the same classes with random weights (seeded, so the same encoder every
  run); its size comes from the preset. The floor of the pixel pipeline, and the tests'.
- `vjepa2-task`: a small V-JEPA 2 pretrained here on the task's own video
  (`pretrain_encoder.py`), loaded from its `save_pretrained` directory through the same
  `from_pretrained` code as a hub id; its image size and pooling are its own.
- `state`: the task's proprioceptive observation vector (an oracle ablation).

V-JEPA 2 consumes tubelets of 2 frames, so an observation in a stream of them (data
collection, closed-loop evaluation) is encoded as the clip (previous frame, current frame):
the latent can see motion (`motion_inputs`; an episode's first frame is paired with itself).
A single image, such as a goal, becomes a still clip: the frame repeated. The latent pools
the encoder's last hidden state over its patch tokens (`--pooling`: the mean by default; an
encoder pretrained here keeps the pooling it was pretrained with).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from train_robots.common.envs import ControlEnv
from train_robots.common.pooling import check_pooling, pool, pooled_dim
from train_robots.common.presets import Preset
from train_robots.common.runtime import ConfigError, UserError
from train_robots.common.task_encoder import TASK_ENCODER_NAME, clips_to_pixels, load_task_encoder, read_task_info

DEFAULT_VJEPA2_ID = "facebook/vjepa2-vitl-fpc64-256"
ENCODER_NAMES = ("vjepa2", "vjepa2-random", "vjepa2-task", "state")
POOLED_ENCODERS = ("vjepa2", "vjepa2-random")
"""The encoders whose pooling `--pooling` chooses."""
# The random encoder's weights are a fixed function of this seed, never of the run's seed:
# data, training and evaluation must all see the same encoder.
RANDOM_ENCODER_SEED = 0
VIDEO_PROCESSOR_FILE = "video_preprocessor_config.json"
"""What `save_pretrained` names a video processor's config (transformers' VIDEO_PROCESSOR_NAME)."""
MOTION_CLIP = "motion"
"""An observation is encoded as the clip (previous frame, current frame)."""
DEFAULT_POOLING = "mean"
"""The hub and random V-JEPA 2 encoders' pooling unless `--pooling` names another."""


class EncoderUnavailable(UserError):
    """The pretrained weights could not be loaded (no network, wrong id or directory)."""


@dataclass(frozen=True)
class EncoderInfo:
    """What identifies an encoder in shards' meta.json and in checkpoints."""

    name: str
    id: str
    dim: int
    image_size: int | None
    clip: str | None = None
    """Pixel encoders: "motion", an observation is encoded as the clip (previous, current frame)."""
    pooling: str | None = None
    """Pixel encoders: how the patch tokens are pooled into the latent."""

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
        """A batch of observations (or of `motion_inputs`) -> float32 latents [B, D]."""

    def motion_inputs(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        """What `encode` takes for observations `current` [B, ...] seen right after `previous`
        [B, ...] (a pixel encoder pairs them into clips; the state needs no history)."""
        return current

    def episode_inputs(self, observations: np.ndarray) -> np.ndarray:
        """`motion_inputs` for consecutive observations [T, ...] of one episode (the first is paired with itself)."""
        return self.motion_inputs(np.concatenate([observations[:1], observations[:-1]]), observations)


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
    """A frozen `VJEPA2Model` with its video processor; clips in, pooled tokens out."""

    def __init__(self, model, processor, info: EncoderInfo, device: torch.device, batch_size: int):
        self.model = model.to(device).eval().requires_grad_(False)
        self.processor = processor
        self.info = info
        self.device = device
        self.batch_size = batch_size
        self.tubelet_size = int(model.config.tubelet_size)

    def observe(self, env: ControlEnv) -> np.ndarray:
        return env.render(self.info.image_size)

    def motion_inputs(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        """Clips [B, 2, H, W, 3]: (previous frame, current frame), one tubelet each."""
        return np.stack([previous, current], axis=1)

    @torch.inference_mode()
    def encode(self, batch: np.ndarray) -> np.ndarray:
        """uint8 frames [B, H, W, 3] (each a still clip) or clips [B, 2, H, W, 3] -> latents [B, D]."""
        clips = np.asarray(batch)
        if clips.ndim == 4:
            clips = np.repeat(clips[:, None], self.tubelet_size, axis=1)
        if clips.ndim != 5 or clips.shape[1] != self.tubelet_size or clips.shape[-1] != 3 or clips.dtype != np.uint8:
            raise ValueError(
                f"V-JEPA 2 encoder expects uint8 frames [B, H, W, 3] or clips [B, {self.tubelet_size}, H, W, 3], "
                f"got {clips.dtype} {clips.shape}"
            )
        out = [self._encode_chunk(clips[i : i + self.batch_size]) for i in range(0, len(clips), self.batch_size)]
        return np.concatenate(out) if out else np.zeros((0, self.info.dim), np.float32)

    def _encode_chunk(self, clips: np.ndarray) -> np.ndarray:
        # The processor resizes and normalises on the encoder's device (on a GPU it would
        # otherwise bound the throughput of the whole encoder).
        pixels = clips_to_pixels(self.processor, clips, self.device)
        autocast = torch.autocast("cuda", dtype=torch.bfloat16) if self.device.type == "cuda" else nullcontext()
        with autocast:
            hidden = self.model(pixel_values_videos=pixels, skip_predictor=True).last_hidden_state
        side = self.model.config.crop_size // self.model.config.patch_size
        return pool(hidden.float(), self.info.pooling or "mean", side).cpu().numpy()


def build_encoder(
    name: str,
    env: ControlEnv,
    preset: Preset,
    device: torch.device,
    encoder_id: str = DEFAULT_VJEPA2_ID,
    pooling: str | None = None,
) -> Encoder:
    """The encoder a command line names (`--encoder`, `--encoder-id`, `--preset`, `--pooling`)."""
    check_variant_flag("--pooling", name, pooling)
    if name == "state":
        return StateEncoder(env)
    if name == "vjepa2":
        return _load_pretrained(encoder_id, preset, device, pooling or DEFAULT_POOLING)
    if name == "vjepa2-random":
        return _build_random(preset, device, pooling or DEFAULT_POOLING)
    if name == TASK_ENCODER_NAME:
        model, processor, info = load_task_encoder(Path(encoder_id), task=env.name)
        return VJEPA2Encoder(model, processor, _task_info(info), device, preset.encode_batch)
    raise ConfigError(f"--encoder {name!r} is unknown; choose one of {list(ENCODER_NAMES)}")


def encoder_info(
    name: str, env: ControlEnv, preset: Preset, encoder_id: str = DEFAULT_VJEPA2_ID, pooling: str | None = None
) -> EncoderInfo:
    """What `build_encoder` would build, without loading any weights."""
    check_variant_flag("--pooling", name, pooling)
    if name == "state":
        return StateEncoder(env).info
    if name == "vjepa2-random":
        config = random_encoder_config(preset)
        return _pixel_info(name, _random_id(config, preset), config, pooling)
    if name == "vjepa2":
        from transformers import VJEPA2Config

        with _explain_unreachable(encoder_id):
            config = VJEPA2Config.from_pretrained(encoder_id)
        return _pixel_info(name, encoder_id, config, pooling, preset.image_size)
    if name == TASK_ENCODER_NAME:
        return _task_info(read_task_info(Path(encoder_id), task=env.name))
    raise ConfigError(f"--encoder {name!r} is unknown; choose one of {list(ENCODER_NAMES)}")


def check_variant_flag(flag: str, name: str, value: object) -> None:
    """`--image-size` and `--pooling` choose a variant of the hub or random encoder only: the state
    has no frames or tokens, and an encoder pretrained here keeps its own size and pooling."""
    if value is None or name in POOLED_ENCODERS:
        return
    kept = " (it keeps the size and pooling it was pretrained with)" if name == TASK_ENCODER_NAME else ""
    raise ConfigError(f"{flag} applies to {' and '.join(POOLED_ENCODERS)} only, not --encoder {name}{kept}")


def _pixel_info(name: str, encoder_id: str, config, pooling: str | None, image_size: int | None = None) -> EncoderInfo:
    """The EncoderInfo of a hub or random V-JEPA 2 of `config` run at `image_size` (default: its crop size)."""
    pooling = pooling or DEFAULT_POOLING
    image_size = image_size or int(config.crop_size)
    try:
        check_pooling(pooling, image_size // int(config.patch_size))
    except ValueError as err:
        raise ConfigError(f"--pooling: {err}") from err
    dim = pooled_dim(pooling, int(config.hidden_size))
    return EncoderInfo(name, encoder_id, dim, image_size, MOTION_CLIP, pooling)


def _task_info(info: dict) -> EncoderInfo:
    """The EncoderInfo of a `vjepa2-task` directory's pretrain_info.json."""
    dim = pooled_dim(info["pooling"], int(info["width"]))
    return EncoderInfo(
        TASK_ENCODER_NAME, info["encoder_id"], dim, int(info["image_size"]), MOTION_CLIP, info["pooling"]
    )


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


def _load_pretrained(encoder_id: str, preset: Preset, device: torch.device, pooling: str) -> VJEPA2Encoder:
    from transformers import AutoVideoProcessor, VJEPA2Model

    folder = Path(encoder_id)
    if folder.is_dir() and not (folder / VIDEO_PROCESSOR_FILE).exists():
        raise EncoderUnavailable(
            f"{folder}: no {VIDEO_PROCESSOR_FILE}; a local V-JEPA 2 directory needs its video processor's config "
            "beside the weights: save it with `AutoVideoProcessor.from_pretrained(<hub id>).save_pretrained(dir)` "
            "(or `VJEPA2VideoProcessor(crop_size=...).save_pretrained(dir)`)"
        )
    with _explain_unreachable(encoder_id):
        model = VJEPA2Model.from_pretrained(encoder_id)
        processor = AutoVideoProcessor.from_pretrained(encoder_id, crop_size=preset.image_size)
    info = _pixel_info("vjepa2", encoder_id, model.config, pooling, preset.image_size)
    return VJEPA2Encoder(model, processor, info, device, preset.encode_batch)


def random_encoder_config(preset: Preset):
    """The `VJEPA2Config` of `vjepa2-random` at a preset (ViT-L defaults plus overrides)."""
    from transformers import VJEPA2Config

    return VJEPA2Config(crop_size=preset.image_size, **preset.random_encoder)


def _build_random(preset: Preset, device: torch.device, pooling: str) -> VJEPA2Encoder:
    from transformers import VJEPA2Model, VJEPA2VideoProcessor

    config = random_encoder_config(preset)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_ENCODER_SEED)
        model = VJEPA2Model(config)
    processor = VJEPA2VideoProcessor(crop_size=preset.image_size)
    info = _pixel_info("vjepa2-random", _random_id(config, preset), config, pooling)
    return VJEPA2Encoder(model, processor, info, device, preset.encode_batch)


def _random_id(config, preset: Preset) -> str:
    return (
        f"random-seed{RANDOM_ENCODER_SEED}-w{config.hidden_size}-l{config.num_hidden_layers}"
        f"-h{config.num_attention_heads}-{preset.image_size}px"
    )
