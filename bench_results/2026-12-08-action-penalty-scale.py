"""How big is the spread of imagined goal costs across CEM's first samples, at the goal and far
from it, against the spread of the action penalty's mean squared action? (calibrates --action-penalty)

    python bench_results/2026-12-08-action-penalty-scale.py <dataset dir> <dynamics.pt>

CEM at the cpu preset's pixel budget (100 samples, horizon 20, the goal distance at every step,
reward weight 0.1); 20 problems from the dataset, their goal the latent itself ("at the goal") or
another frame's ("far"); sample 0 of each is the quiet sequence (zero action)."""

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from train_robots.common.data import load_dataset
from train_robots.common.envs import task_spec
from train_robots.common.planners import Planner
from train_robots.common.presets import sizes_for
from train_robots.common.world_model import load_world_model
from train_robots.mpc_planner import PlannerFlags

torch.set_num_threads(1)
data = load_dataset(Path(sys.argv[1]))
model = load_world_model(Path(sys.argv[2])).eval()
preset = sizes_for("cpu", "reacher-easy", "vjepa2-random")
cfg = PlannerFlags(planner="cem", horizon=20, handover=0.0, prior_samples=0).sized(preset, task_spec("reacher-easy"))
planner = Planner(model, cfg, -np.ones(2, np.float32), np.ones(2, np.float32))
rng = np.random.default_rng(0)
n, s = 20, cfg.samples
ep = rng.choice(data.episodes, n, replace=False)
t = rng.integers(10, data.z.shape[1], n)
z0 = torch.as_tensor(data.z[ep, t])
other = torch.as_tensor(data.z[rng.choice(data.episodes, n), rng.integers(0, data.z.shape[1], n)])
g = torch.Generator().manual_seed(0)
units = torch.randn(n, s, cfg.horizon, 2, generator=g).clamp(-1, 1)
units[:, 0] = 0  # the quiet sequence
a2 = units.square().mean((-2, -1))
print(f"mean squared action of a sample: mean {a2[:, 1:].mean():.3f}, std over samples {a2[:, 1:].std(1).mean():.3f}")
with torch.no_grad():
    for label, goal in (("at the goal (goal = z0)", z0), ("far (goal from another frame)", other)):
        cost, distance = planner._evaluate(z0, goal, units, per_step=True)
        spread = cost[:, 1:].std(1)
        quiet_rank = (cost[:, 1:] < cost[:, :1]).float().mean(1)
        print(
            f"{label}: cost mean {cost.mean():.4f}, std over samples (median of problems) {spread.median():.4f}, "
            f"best-minus-median {(cost.median(1).values - cost.min(1).values).median():.4f}, "
            f"share of samples cheaper than the quiet one {quiet_rank.mean():.2f}"
        )
