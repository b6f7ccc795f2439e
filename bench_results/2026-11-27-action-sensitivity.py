"""Does the latent, and does the world model, respond to the actions? (one-off diagnostic)

From held-out data windows (train_dynamics.py's split) the simulator is restored to the window's
start and run twice for H agent steps: with the window's own actions and with another window's.
Each end is rendered and encoded as the data encodes it (the clip of the last two frames), so
|z(a) - z(a')| is how far two action sequences move the *true* latent apart. The world model
imagines both from the same start latent, and |z_hat(a) - z_hat(a')| is how far apart it thinks
they end. Both in goal_landscape.py's unit (the median distance of a pose 3 rad from a goal), over
the goal distance's dimensions. A planner can only rank sequences by what its model separates.

    python bench_results/2026-11-27-action-sensitivity.py DATA_DIR CKPT_DIR [ENCODER] [WINDOWS]
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from train_robots.common.data import dataset_dir, load_dataset  # noqa: E402
from train_robots.common.encoders import build_encoder  # noqa: E402
from train_robots.common.envs import ControlEnv  # noqa: E402
from train_robots.common.presets import get_preset  # noqa: E402
from train_robots.common.training import split_episodes  # noqa: E402
from train_robots.common.world_model import load_world_model  # noqa: E402

data_dir, ckpt_dir = Path(sys.argv[1]), Path(sys.argv[2])
encoder_name = sys.argv[3] if len(sys.argv) > 3 else "vjepa2-task"
count = int(sys.argv[4]) if len(sys.argv) > 4 else 200
folder = ckpt_dir / "reacher-easy" / encoder_name
unit = json.loads((folder / "goal_landscape.json").read_text())["distance_unit_raw"]
env = ControlEnv("reacher-easy")
source = str(folder / "encoder") if encoder_name == "vjepa2-task" else "facebook/vjepa2-vitl-fpc64-256"
encoder = build_encoder(encoder_name, env, get_preset("cpu", "reacher-easy"), torch.device("cpu"), source)
dims = np.ones(encoder.info.dim, bool) if encoder.goal_dims is None else np.asarray(encoder.goal_dims, bool)
model = load_world_model(folder / "dynamics.pt").eval()
data = load_dataset(dataset_dir(data_dir, "reacher-easy", encoder_name))
_, val = split_episodes(data.episodes, 0.2, 0)
rng = np.random.default_rng(0)
horizons = (1, 5, 10)
H = max(horizons)
episodes = rng.choice(val, count)
starts = rng.integers(0, data.action.shape[1] - H + 1, count)
actions = np.stack([data.action[e, s : s + H] for e, s in zip(episodes, starts)])
others = actions[rng.permutation(count)]


def true_latents(e: int, s: int, seq: np.ndarray) -> np.ndarray:
    """Latents after each of the horizons, replaying `seq` from the window's start state."""
    env.set_state(data.physics[e, s])
    previous, out = encoder.observe(env), []
    for t, action in enumerate(seq, start=1):
        env.step(action)
        current = encoder.observe(env)
        if t in horizons:
            clip = encoder.motion_inputs(previous[None], current[None])
            out.append(encoder.encode(clip)[0])
        previous = current
    return np.stack(out)


own = np.stack([true_latents(e, s, a) for e, s, a in zip(episodes, starts, actions)])  # [N, len(h), D]
other = np.stack([true_latents(e, s, a) for e, s, a in zip(episodes, starts, others)])
z0 = torch.as_tensor(np.stack([data.z[e, s] for e, s in zip(episodes, starts)]), dtype=torch.float32)
with torch.inference_mode():
    imagined = model.rollout(z0, torch.as_tensor(actions))["z"].numpy()
    imagined_other = model.rollout(z0, torch.as_tensor(others))["z"].numpy()
stored = np.stack([data.z[e, s + np.array(horizons)] for e, s in zip(episodes, starts)]).astype(np.float32)


def gap(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.abs(x[..., dims] - y[..., dims]).mean() / unit)


result = {"encoder": encoder_name, "windows": count, "unit_raw": unit}
for i, h in enumerate(horizons):
    result[f"h{h}"] = {
        "true_own_vs_other_actions": gap(own[:, i], other[:, i]),
        "model_own_vs_other_actions": gap(imagined[:, h - 1], imagined_other[:, h - 1]),
        "model_error": gap(imagined[:, h - 1], own[:, i]),
        "replay_vs_stored_latent": gap(own[:, i], stored[:, i]),
    }
print(json.dumps(result, indent=1))
