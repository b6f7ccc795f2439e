"""One-off: does the previous latent (velocity) make the pixel latent predictable?
Trains the same residual MLP on (z_t, a_t) and on (z_t, z_t - z_{t-1}, a_t), 5-step open loop,
and reports open-loop error against copying by horizon (normalised units, held-out episodes)."""

import sys, numpy as np, torch
from torch import nn

sys.path.insert(0, ".")
from pathlib import Path
from train_robots.common.data import load_dataset
from train_robots.common.training import split_episodes

torch.manual_seed(0)
data = load_dataset(Path(sys.argv[1]))
tr, va = split_episodes(data.episodes, 0.2, 0)
z = torch.as_tensor(data.z, dtype=torch.float32)
a = torch.as_tensor(data.action, dtype=torch.float32)
mu, sd = z[tr].reshape(-1, z.shape[-1]).mean(0), z[tr].reshape(-1, z.shape[-1]).std(0) + 1e-6
zn = (z - mu) / sd
dsd = (zn[tr, 1:] - zn[tr, :-1]).reshape(-1, zn.shape[-1]).std(0) + 1e-6
D, A = zn.shape[-1], a.shape[-1]


class Net(nn.Module):
    def __init__(s, hist, w=256):
        super().__init__()
        s.hist = hist
        s.f = nn.Sequential(
            nn.Linear(D * (2 if hist else 1) + A, w), nn.SiLU(), nn.Linear(w, w), nn.SiLU(), nn.Linear(w, D)
        )

    def step(s, zc, zp, ac):
        x = torch.cat([zc, zc - zp, ac] if s.hist else [zc, ac], -1)
        return zc + dsd * s.f(x)

    def roll(s, zp, zc, acts):  # from a true (z_{t-1}, z_t), H actions -> [B, H, D]
        out = []
        for t in range(acts.shape[1]):
            nxt = s.step(zc, zp, acts[:, t])
            out.append(nxt)
            zp, zc = zc, nxt
        return torch.stack(out, 1)


def windows(idx, L, starts):
    e = torch.as_tensor(idx)[:, None].repeat(1, len(starts)).reshape(-1)
    st = starts.repeat(len(idx))
    t = st[:, None] + torch.arange(L + 2)  # z_{s-1}..z_{s+L}
    return zn[e[:, None], t], a[e[:, None], t[:, 1:-1]]


T = a.shape[1]
H = 10
vz, va_ = windows(va, H, torch.arange(1, T - H, 5))
for hist in (False, True):
    torch.manual_seed(0)
    net = Net(hist)
    opt = torch.optim.AdamW(net.parameters(), 1e-3, weight_decay=1e-4)
    g = torch.Generator().manual_seed(0)
    for step in range(3000):
        e = torch.as_tensor(tr)[torch.randint(len(tr), (256,), generator=g)]
        s = torch.randint(1, T - 5 + 1, (256,), generator=g)
        t = s[:, None] + torch.arange(-1, 6)
        zw, aw = zn[e[:, None], t], a[e[:, None], t[:, 1:-1]]
        pred = net.roll(zw[:, 0], zw[:, 1], aw)
        loss = nn.functional.smooth_l1_loss(pred, zw[:, 2:])
        for gr in opt.param_groups:
            gr["lr"] = 1e-3 * 0.5 * (1 + np.cos(np.pi * step / 3000))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        pred = net.roll(vz[:, 0], vz[:, 1], va_)
        err = (pred - vz[:, 2:]).abs().mean((0, 2))
        cp = (vz[:, 1:2] - vz[:, 2:]).abs().mean((0, 2))
    print(
        ("z, dz" if hist else "z only"),
        "train loss %.3f" % loss.item(),
        " ".join(f"h{h} {err[h - 1]:.3f}/{cp[h - 1]:.3f}={err[h - 1] / cp[h - 1]:.2f}" for h in (1, 5, 10)),
        flush=True,
    )
