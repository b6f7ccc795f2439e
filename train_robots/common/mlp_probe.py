"""Nonlinear probe: held-out R² of a small MLP read-out of the true state from latents.

Every controller here (BC, the world model, dream-SAC) reads the latent through an MLP, so a
linear probe understates what they can use: reacher's elbow bend (sin θ2) or its velocities
are not linear in pooled token features, yet an MLP reads them. Same split as the ridge probe
(`probe.split_rows`): fit on the training episodes, stop early on a validation split of them,
score the held-out episodes. Seeded and run on the CPU, so it repeats exactly.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from train_robots.common.probe import ProbeResult, r2_scores, split_rows

HIDDEN = 256
"""Units of each of the MLP's two hidden layers."""


def mlp_probe(
    latents: np.ndarray,
    states: np.ndarray,
    episode: np.ndarray,
    test_episodes: np.ndarray,
    names: list[str],
    seed: int = 0,
    epochs: int = 40,
    patience: int = 5,
    val_fraction: float = 0.2,
) -> ProbeResult:
    """Held-out R² per quantity of an MLP (2 hidden layers, dropout, AdamW) trained to predict
    the standardised `states` [N, Q] from the standardised `latents` [N, D]."""
    fit, val, test = split_rows(latents, states, episode, test_episodes, names, val_fraction, seed)
    x_mean, x_std = latents[fit].mean(0), latents[fit].std(0) + 1e-6
    y_mean, y_std = states[fit].mean(0), states[fit].std(0) + 1e-6

    def tensors(rows):
        x = torch.as_tensor((latents[rows] - x_mean) / x_std, dtype=torch.float32)
        return x, torch.as_tensor((states[rows] - y_mean) / y_std, dtype=torch.float32)

    (x_fit, y_fit), (x_val, y_val), (x_test, _) = tensors(fit), tensors(val), tensors(test)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # the layers' initial weights and the dropout masks
    net = nn.Sequential(
        nn.Linear(x_fit.shape[1], HIDDEN), nn.GELU(), nn.Dropout(0.1),
        nn.Linear(HIDDEN, HIDDEN), nn.GELU(), nn.Dropout(0.1),
        nn.Linear(HIDDEN, y_fit.shape[1]),
    )  # fmt: skip
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-2)
    best, best_state, waited = float("inf"), None, 0
    for _ in range(epochs):
        net.train()
        for rows in torch.randperm(len(x_fit), generator=generator).split(256):
            loss = (net(x_fit[rows]) - y_fit[rows]).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        net.eval()
        with torch.no_grad():
            val_loss = (net(x_val) - y_val).pow(2).mean().item()
        if val_loss < best:
            best, best_state, waited = val_loss, {k: v.clone() for k, v in net.state_dict().items()}, 0
        elif (waited := waited + 1) >= patience:
            break
    net.load_state_dict(best_state)
    with torch.no_grad():
        predicted = net(x_test).numpy() * y_std + y_mean
    predicted = predicted.astype(np.float64)
    r2 = r2_scores(states[test].astype(np.float64), predicted)
    return ProbeResult(r2={n: float(v) for n, v in zip(names, r2)}, predicted=predicted)
