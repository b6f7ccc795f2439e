"""Does the world model rank action sequences as the real world does, by their goal distance?
(one-off diagnostic; the planner's cost landscape, imagined against real)

For M held-out data windows (train_dynamics.py's split), the expert's goal image from the window's
start state is encoded (goals.py, as mpc_planner.py does), and K action sequences of H agent steps
(the window's own, the rest random with the data's action scale) are both replayed in the simulator
(each step rendered and encoded as the data is) and imagined by the world model from the window's
start latent. Each sequence's cost is the planner's default, the mean goal distance over the H
steps. Per window: Spearman's rank correlation of imagined and real costs over the K sequences,
and how much of the real cost spread the imagined one shows; then the mean over windows.

    python bench_results/2026-11-27-cost-ranking.py DATA_DIR CKPT_DIR [ENCODER] [DYNAMICS_NAME] [M] [K]
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from train_robots.common.data import dataset_dir, load_dataset  # noqa: E402
from train_robots.common.encoders import build_encoder  # noqa: E402
from train_robots.common.envs import ControlEnv  # noqa: E402
from train_robots.common.goals import goal_from_expert  # noqa: E402
from train_robots.common.presets import get_preset  # noqa: E402
from train_robots.common.training import split_episodes  # noqa: E402
from train_robots.common.world_model import load_world_model  # noqa: E402

data_dir, ckpt_dir = Path(sys.argv[1]), Path(sys.argv[2])
encoder_name = sys.argv[3] if len(sys.argv) > 3 else "vjepa2-task"
dynamics = sys.argv[4] if len(sys.argv) > 4 else "dynamics"
M = int(sys.argv[5]) if len(sys.argv) > 5 else 40
K = int(sys.argv[6]) if len(sys.argv) > 6 else 16
H = 10
folder = ckpt_dir / "reacher-easy" / encoder_name
env = ControlEnv("reacher-easy")
source = str(folder / "encoder") if encoder_name == "vjepa2-task" else "facebook/vjepa2-vitl-fpc64-256"
encoder = build_encoder(encoder_name, env, get_preset("cpu", "reacher-easy"), torch.device("cpu"), source)
dims = np.ones(encoder.info.dim, bool) if encoder.goal_dims is None else np.asarray(encoder.goal_dims, bool)
model = load_world_model(folder / f"{dynamics}.pt").eval()
data = load_dataset(dataset_dir(data_dir, "reacher-easy", encoder_name))
_, val = split_episodes(data.episodes, 0.2, 0)
rng = np.random.default_rng(0)
scale = data.action.std()


def replay(state: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """The real latents after each step of `seq` from `state` [H, D]."""
    env.set_state(state)
    frames = [encoder.observe(env)]
    for action in seq:
        env.step(action)
        frames.append(encoder.observe(env))
    frames = np.stack(frames)
    return encoder.encode(encoder.motion_inputs(frames[:-1], frames[1:]) if encoder.uses_pixels else frames[1:])


def cost(z: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """Mean goal distance over the steps: [K, H, D] -> [K]."""
    return np.abs(z[..., dims] - goal[dims]).mean(-1).mean(-1)


rhos, spreads = [], []
for _ in range(M):
    e = int(rng.choice(val))
    s = int(rng.integers(0, data.action.shape[1] - H + 1))
    env.set_state(data.physics[e, s])
    goal = goal_from_expert(env, encoder).z
    seqs = np.concatenate(
        [data.action[e, s : s + H][None], np.clip(rng.normal(0, scale, (K - 1, H, env.action_dim)), -1, 1)]
    ).astype(np.float32)
    real = np.stack([replay(data.physics[e, s], q) for q in seqs])
    z0 = torch.as_tensor(np.repeat(data.z[e, s][None].astype(np.float32), K, 0))
    with torch.inference_mode():
        imagined = model.rollout(z0, torch.as_tensor(seqs))["z"].numpy()
    real_cost, imagined_cost = cost(real, goal), cost(imagined, goal)
    rhos.append(spearmanr(real_cost, imagined_cost).statistic)
    spreads.append(imagined_cost.std() / real_cost.std())
result = {
    "encoder": encoder_name,
    "dynamics": dynamics,
    "windows": M,
    "sequences": K,
    "horizon": H,
    "spearman_imagined_vs_real_cost_mean": float(np.nanmean(rhos)),
    "spearman_quartiles": [float(q) for q in np.nanpercentile(rhos, [25, 50, 75])],
    "imagined_over_real_cost_spread": float(np.median(spreads)),
}
print(json.dumps(result, indent=1))
