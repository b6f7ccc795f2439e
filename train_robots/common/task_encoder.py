"""`vjepa2-task`: a small V-JEPA 2 pretrained here on the task's own video.

The encoder lives in a directory written by `save_pretrained`, so it loads through exactly
the code a hub id takes:

    model = VJEPA2Model.from_pretrained(folder)
    processor = AutoVideoProcessor.from_pretrained(folder)   # no crop_size override

`load_task_encoder(folder)` does just that and also checks `pretrain_info.json`, the record of
what the encoder was trained on (task, image size, source data, probe and collapse figures)
that tells this directory apart from a hub model's.

The processor keeps the frame whole: resize to the model's crop size exactly, centre-crop the
same size (a no-op), rescale to [0, 1] and normalise with ImageNet's mean and std. Stock
`VJEPA2VideoProcessor` cannot: its constructor always replaces `size` with a shortest edge of
crop * 256 / 224 (even when loading a saved config), which would upscale a 64 px frame to 73
and cut its borders. So the processor is saved as the `BaseVideoProcessor` it derives from,
with explicit sizes, and `AutoVideoProcessor` loads it by that class name. Pretraining feeds
the model through this very processor object, so training and encoding see identical pixels.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from train_robots.common.pooling import pool
from train_robots.common.runtime import UserError, write_json

TASK_ENCODER_NAME = "vjepa2-task"
INFO_NAME = "pretrain_info.json"
CLIP_FRAMES = 2
"""Frames per clip: one tubelet, (previous frame, current frame)."""
COLLAPSED_STD, COLLAPSED_RANK = 0.05, 2.0
"""Target features below this per-dimension std or effective rank: a collapsed encoder."""


class TaskEncoderError(UserError, ValueError):
    """A directory that is not a finished `vjepa2-task` encoder."""


def task_encoder_config(
    image_size: int,
    patch_size: int,
    width: int,
    depth: int,
    heads: int,
    pred_width: int,
    pred_depth: int,
    pred_heads: int,
):
    """The `VJEPA2Config` of a small encoder for 2-frame clips at `image_size`."""
    from transformers import VJEPA2Config

    if image_size % patch_size:
        raise ValueError(f"image size {image_size} is not a multiple of the patch size {patch_size}")
    return VJEPA2Config(
        crop_size=image_size,
        patch_size=patch_size,
        frames_per_clip=CLIP_FRAMES,
        tubelet_size=2,
        hidden_size=width,
        num_hidden_layers=depth,
        num_attention_heads=heads,
        pred_hidden_size=pred_width,
        pred_num_hidden_layers=pred_depth,
        pred_num_attention_heads=pred_heads,
    )


def task_processor(image_size: int):
    """A video processor that keeps an `image_size` frame whole (see the module docstring)."""
    from transformers import BaseVideoProcessor
    from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, PILImageResampling

    side = {"height": image_size, "width": image_size}
    return BaseVideoProcessor(
        size=side,
        crop_size=side,
        do_resize=True,
        do_center_crop=True,
        do_rescale=True,
        do_normalize=True,
        image_mean=list(IMAGENET_DEFAULT_MEAN),
        image_std=list(IMAGENET_DEFAULT_STD),
        resample=PILImageResampling.BILINEAR,
    )


def clips_to_pixels(processor, clips: np.ndarray, device: torch.device | str | None = None) -> torch.Tensor:
    """uint8 clips [B, T, H, W, 3] -> the model's float input [B, T, 3, S, S] on `device`, via the
    processor, which rescales and normalises there (on an H200's host CPU that work was 41-108 ms of
    a 128 px pretraining step of 64-256 clips)."""
    if clips.ndim != 5 or clips.shape[-1] != 3 or clips.dtype != np.uint8:
        raise ValueError(f"clips must be uint8 [B, T, H, W, 3], got {clips.dtype} {clips.shape}")
    return processor(list(clips), return_tensors="pt", device=device)["pixel_values_videos"]


def grid_side(config) -> int:
    return config.crop_size // config.patch_size


@torch.inference_mode()
def encode_clips(
    model, processor, clips: np.ndarray, poolings: list[str], batch_size: int, device: torch.device
) -> dict[str, np.ndarray]:
    """Latents of uint8 clips [B, 2, H, W, 3] under each pooling: {name: float32 [B, D']}."""
    side = grid_side(model.config)
    out: dict[str, list[np.ndarray]] = {name: [] for name in poolings}
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()
    for start in range(0, len(clips), batch_size):
        pixels = clips_to_pixels(processor, clips[start : start + batch_size], device)
        with autocast:
            tokens = model(pixel_values_videos=pixels, skip_predictor=True).last_hidden_state.float()
        for name in poolings:
            out[name].append(pool(tokens, name, side).cpu().numpy())
    return {name: np.concatenate(parts) for name, parts in out.items()}


def weights_digest(folder: Path) -> str:
    """Short hash of the saved weights: part of the encoder id, so data encoded by one set of
    weights is never mixed with another's."""
    digest = hashlib.sha1()
    for path in sorted(Path(folder).glob("*.safetensors")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def save_task_encoder(folder: Path, model, processor, info: dict) -> dict:
    """Write the `save_pretrained` directory plus pretrain_info.json; returns the info written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / INFO_NAME).unlink(missing_ok=True)  # unfinished until the new info is written
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    config = model.config
    info = {
        **info,
        "encoder": TASK_ENCODER_NAME,
        "encoder_id": f"{TASK_ENCODER_NAME}:{info['task']}:{config.crop_size}px:{weights_digest(folder)}",
        "image_size": int(config.crop_size),
        "width": int(config.hidden_size),
    }
    write_json(folder / INFO_NAME, info)  # last: its presence marks a finished encoder
    return info


def read_task_info(folder: Path, task: str | None = None) -> dict:
    """pretrain_info.json of a finished `vjepa2-task` directory, checked: the encoder it names, its
    task, and that pretraining did not end collapsed."""
    folder = Path(folder)
    info_path = folder / INFO_NAME
    if not info_path.exists():
        raise TaskEncoderError(
            f"{folder}: no {INFO_NAME}, so not a finished vjepa2-task encoder; make one with "
            f"`python train_robots/pretrain_encoder.py --task {task or '<task>'}`"
        )
    info = json.loads(info_path.read_text())
    if info.get("encoder") != TASK_ENCODER_NAME:
        raise TaskEncoderError(f"{info_path}: encoder is {info.get('encoder')!r}, not {TASK_ENCODER_NAME!r}")
    if task is not None and info.get("task") != task:
        raise TaskEncoderError(f"{info_path}: pretrained on {info.get('task')!r}, but the task is {task!r}")
    std, rank = info.get("target_std", 1.0), info.get("effective_rank", COLLAPSED_RANK + 1)
    if std < COLLAPSED_STD or rank < COLLAPSED_RANK:
        raise TaskEncoderError(
            f"{info_path}: this encoder collapsed in pretraining (feature std {std:.3g}, effective rank "
            f"{rank:.3g}): its latents carry nothing to control from. Pretrain it again with a lower --lr or a "
            f"higher --ema-start (`python train_robots/pretrain_encoder.py --task {info.get('task')} --force`)"
        )
    return info


def load_task_encoder(folder: Path, task: str | None = None):
    """(VJEPA2Model, video processor, info) of a `vjepa2-task` directory; the model in eval mode.
    The model and processor load exactly as a hub id's would."""
    from transformers import AutoVideoProcessor, VJEPA2Model

    info = read_task_info(folder, task)
    model = VJEPA2Model.from_pretrained(folder).eval()
    processor = AutoVideoProcessor.from_pretrained(folder)
    return model, processor, info
