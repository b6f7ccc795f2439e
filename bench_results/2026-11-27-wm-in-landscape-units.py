"""How far off is the pixel world model, in the goal landscape's units? (one-off diagnostic)

Open-loop rollouts of a world model on held-out episodes (train_dynamics.py's split), with the
true actions and with another window's actions; the error of the imagined latent and of copying the start latent, both as the
mean |z_hat - z| in the encoder's raw latent divided by goal_landscape.py's unit (the median
distance of a pose 3 rad from the goal), and read back as the pose error whose median landscape
distance equals it.

    python bench_results/2026-11-27-wm-in-landscape-units.py DATA_DIR CKPT_DIR [ENCODER]
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from train_robots.common.data import dataset_dir, load_dataset  # noqa: E402
from train_robots.common.envs import ControlEnv  # noqa: E402
from train_robots.common.goal_landscape import OFFSETS_RAD  # noqa: E402
from train_robots.common.training import split_episodes  # noqa: E402
from train_robots.common.world_model import load_world_model  # noqa: E402

data_dir, ckpt_dir = Path(sys.argv[1]), Path(sys.argv[2])
encoder = sys.argv[3] if len(sys.argv) > 3 else "vjepa2-task"
folder = ckpt_dir / "reacher-easy" / encoder
landscape = json.loads((folder / "goal_landscape.json").read_text())
unit = landscape["distance_unit_raw"]
model = load_world_model(folder / "dynamics.pt").eval()
data = load_dataset(dataset_dir(data_dir, "reacher-easy", encoder))
_, val = split_episodes(data.episodes, 0.2, 0)
horizons = (1, 2, 5, 10)
# Windows of max(horizons) steps from every 10th step of each held-out episode.
steps = data.action.shape[1]
starts = range(0, steps - max(horizons) + 1, 10)
z = torch.as_tensor(np.concatenate([data.z[val, s : s + max(horizons) + 1] for s in starts]), dtype=torch.float32)
a = torch.as_tensor(np.concatenate([data.action[val, s : s + max(horizons)] for s in starts]), dtype=torch.float32)
# The same starts with another window's actions: a model that ignores the actions scores as well.
shuffled = a[torch.randperm(len(a), generator=torch.Generator().manual_seed(0))]
with torch.inference_mode():
    rolled = model.rollout(z[:, 0], a)["z"]  # [N, H, D]
    rolled_other = model.rollout(z[:, 0], shuffled)["z"]
# The goal distance's dimensions: the state's pose (not its velocities), every pixel latent's.
dims = torch.as_tensor(ControlEnv("reacher-easy").pose_dims()) if encoder == "state" else slice(None)
rolled, rolled_other, z = rolled[..., dims], rolled_other[..., dims], z[..., dims]
offsets = np.array(OFFSETS_RAD)
curve = np.array([0.0] + [landscape[f"distance_at_{o:g}rad"] for o in OFFSETS_RAD[1:]])
out = {"unit_raw": unit, "episodes": len(val), "windows": len(z)}
for h in horizons:
    model_err = float((rolled[:, h - 1] - z[:, h]).abs().mean() / unit)
    copy_err = float((z[:, 0] - z[:, h]).abs().mean() / unit)
    other_err = float((rolled_other[:, h - 1] - z[:, h]).abs().mean() / unit)
    out[f"h{h}"] = {
        "model": model_err,
        "copy": copy_err,
        "model_other_actions": other_err,
        "model_as_offset_rad": float(np.interp(model_err, curve, offsets)),
        "copy_as_offset_rad": float(np.interp(copy_err, curve, offsets)),
    }
print(json.dumps(out, indent=1))
