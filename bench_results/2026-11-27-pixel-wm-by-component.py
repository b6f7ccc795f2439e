"""One-off: which principal components of the pixel latent does the world model predict better than copying?"""

import sys, numpy as np, torch

sys.path.insert(0, ".")
from pathlib import Path
from train_robots.common.data import load_dataset
from train_robots.common.world_model import load_world_model
from train_robots.common.training import split_episodes

data_dir, ckpt = Path(sys.argv[1]), Path(sys.argv[2])
name = sys.argv[3] if len(sys.argv) > 3 else "dynamics"
data = load_dataset(data_dir)
tr, va = split_episodes(data.episodes, 0.2, 0)
model = load_world_model(ckpt / f"{name}.pt")
z = torch.as_tensor(data.z, dtype=torch.float32)
a = torch.as_tensor(data.action, dtype=torch.float32)
with torch.no_grad():
    zn = model.normalize(z)
    an = model.normalize_action(a)
ztr = zn[tr].reshape(-1, zn.shape[-1])
mu = ztr.mean(0)
U, S, Vt = torch.linalg.svd(ztr - mu, full_matrices=False)
var = S**2 / (S**2).sum()
zv, av = zn[va], an[va]
H = 10
n, T1, D = zv.shape
starts = torch.arange(0, T1 - 1 - H + 1, 5)
e = torch.arange(n).repeat_interleave(len(starts))
s = starts.repeat(n)
t = s[:, None] + torch.arange(H + 1)
zw, aw = zv[e[:, None], t], av[e[:, None], t[:, :-1]]
with torch.no_grad():
    roll = model.rollout_normalized(zw[:, 0], aw)["zn"]
P = lambda x: (x - mu) @ Vt.T  # PC coordinates
pt, pm, pc = P(zw[:, 1:]), P(roll), P(zw[:, :1].expand_as(zw[:, 1:]))
blocks = [(0, 4), (4, 16), (16, 64), (64, 256), (256, D)]
print(f"{name}: {len(e)} rollouts; per PC block at h1 / h5 / h10: model RMS err / copy RMS err (share of variance)")
for lo, hi in blocks:
    row = []
    for h in (1, 5, 10):
        em = (pm[:, h - 1, lo:hi] - pt[:, h - 1, lo:hi]).pow(2).sum(-1).mean().sqrt()
        ec = (pc[:, h - 1, lo:hi] - pt[:, h - 1, lo:hi]).pow(2).sum(-1).mean().sqrt()
        row.append(f"{em:.2f}/{ec:.2f}={em / ec:.2f}")
    print(f"PC {lo:3d}-{hi:3d} ({var[lo:hi].sum():.1%}): " + "  ".join(row))
