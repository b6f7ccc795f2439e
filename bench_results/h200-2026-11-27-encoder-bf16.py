"""One-off: how far the CUDA encoder's bf16 latents lie from the CPU's fp32 ones (the world model
and dream-SAC were trained on CPU latents), against how far consecutive latents lie apart."""

import json
import sys

import numpy as np
import torch

from train_robots.common.encoders import build_encoder
from train_robots.common.envs import ControlEnv
from train_robots.common.presets import get_preset

env = ControlEnv("reacher-easy")
preset = get_preset(sys.argv[3], "reacher-easy")
source = f"{sys.argv[2]}/reacher-easy/vjepa2-task/encoder"
rng = np.random.default_rng(0)
frames = []
for episode in range(4):
    env.reset(episode)
    for _ in range(32):
        frames.append(env.render(preset.pretrain_image_size))
        env.step(rng.uniform(-1, 1, 2))
frames = np.stack(frames).reshape(4, 32, *frames[0].shape)
latents = {}
for key, device in (("cpu", "cpu"), ("cuda", "cuda" if torch.cuda.is_available() else "cpu")):
    encoder = build_encoder("vjepa2-task", env, preset, torch.device(device), source)
    latents[key] = np.concatenate([encoder.encode(encoder.episode_inputs(f)) for f in frames])
scale = latents["cpu"].std(0) + 1e-6
gap = np.abs(latents["cuda"] - latents["cpu"]) / scale
z = latents["cpu"].reshape(4, 32, -1)
step = np.abs(np.diff(z, axis=1)) / scale
result = {
    "frames": 128,
    "bf16_vs_fp32_normalised_l1": float(gap.mean()),
    "consecutive_steps_normalised_l1": float(step.mean()),
}
print(json.dumps(result))
json.dump(result, open(sys.argv[1], "w"))
