"""The behaviour-cloning policy: an MLP from a latent z to an action within the bounds.

With `latent_change` the MLP also reads z_t - z_{t-1}, the latent's change over the last
step (zero at an episode's first step): a single pixel latent hardly shows how fast the arm
moves, and the expert's action is mostly a damping of that velocity. Inputs are standardised
with the training data's mean and std, and the output is a tanh squashed into
[action_low, action_high]. Both live in the module as buffers, so a saved state_dict is the
whole policy: loading needs no dataset.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from train_robots.common.checkpoint import load_checkpoint, save_checkpoint
from train_robots.common.envs import ControlEnv

KIND = "bc"
MIN_STD = 1e-6
"""Floor of a latent dimension's std: a constant dimension is centred, not blown up."""


class PolicyMLP(nn.Module):
    def __init__(
        self,
        latent_dim: int,
        action_dim: int,
        hidden: int,
        layers: int,
        action_low: np.ndarray,
        action_high: np.ndarray,
        latent_change: bool = False,
    ):
        super().__init__()
        self.config = dict(
            latent_dim=latent_dim, action_dim=action_dim, hidden=hidden, layers=layers, latent_change=latent_change
        )
        self.latent_change = latent_change
        inputs = 2 * latent_dim if latent_change else latent_dim
        blocks: list[nn.Module] = []
        width = inputs
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden), nn.LayerNorm(hidden), nn.SiLU()]
            width = hidden
        blocks.append(nn.Linear(width, action_dim))
        self.net = nn.Sequential(*blocks)
        low = torch.as_tensor(np.asarray(action_low, np.float32))
        high = torch.as_tensor(np.asarray(action_high, np.float32))
        self.register_buffer("z_mean", torch.zeros(inputs))  # of the MLP's inputs
        self.register_buffer("z_std", torch.ones(inputs))
        self.register_buffer("action_mid", (high + low) / 2)
        self.register_buffer("action_half", (high - low) / 2)

    def set_normalizer(self, mean: np.ndarray, std: np.ndarray) -> None:
        """Statistics (per dimension) of the training data's `inputs`."""
        self.z_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.z_std.copy_(torch.as_tensor(np.maximum(std, MIN_STD), dtype=torch.float32))

    def inputs(self, z: torch.Tensor, previous: torch.Tensor | None = None) -> torch.Tensor:
        """What the MLP reads: z [B, D], and with latent_change also z - previous (zero when
        `previous` is None: an episode's first step) -> [B, D] or [B, 2D]."""
        if not self.latent_change:
            return z
        return torch.cat([z, torch.zeros_like(z) if previous is None else z - previous], dim=-1)

    def forward(self, z: torch.Tensor, previous: torch.Tensor | None = None) -> torch.Tensor:
        """Latents [B, D] (raw, as the encoder gives them) and, for a latent_change policy, the
        step before's [B, D] -> actions [B, A] within bounds."""
        x = (self.inputs(z, previous) - self.z_mean) / self.z_std
        return self.action_mid + self.action_half * torch.tanh(self.net(x))


def save_policy(
    path: Path, policy: PolicyMLP, task: str, encoder: dict, step: int, metrics: dict, config: dict | None = None
) -> None:
    """A `bc` checkpoint: the policy's state_dict, its shape, and what it was trained on."""
    save_checkpoint(
        path,
        {
            "kind": KIND,
            "model": {k: v.detach().cpu() for k, v in policy.state_dict().items()},
            "config": {**(config or {}), "policy": policy.config},
            "task": task,
            "encoder": encoder,
            "step": step,
            "metrics": metrics,
        },
    )


def load_policy(
    path: Path, encoder: dict | None = None, task: str | None = None, device: torch.device | str = "cpu"
) -> PolicyMLP:
    """A saved policy in eval mode; refuses one made for another task or encoder (name, dim)."""
    payload = load_checkpoint(path, KIND, encoder=encoder, task=task)
    shape = payload["config"]["policy"]
    state = payload["model"]
    policy = PolicyMLP(
        action_low=(state["action_mid"] - state["action_half"]).numpy(),
        action_high=(state["action_mid"] + state["action_half"]).numpy(),
        **shape,
    )
    policy.load_state_dict(state)
    return policy.to(device).eval()


class PolicyController:
    """A policy behind the Controller interface of common/rollout.py (a batch of latents, no
    gradients); it remembers the last step's latents for a latent_change policy."""

    def __init__(self, policy: PolicyMLP):
        self.policy = policy.eval()
        self.device = next(policy.parameters()).device
        self.previous: torch.Tensor | None = None

    def reset(self, envs: Sequence[ControlEnv], seeds: Sequence[int]) -> None:
        self.previous = None  # a new episode: no change yet

    @torch.inference_mode()
    def act(self, z: np.ndarray) -> np.ndarray:
        """Latents [N, D] -> actions [N, A]."""
        z = torch.as_tensor(np.asarray(z, np.float32), device=self.device)
        actions = self.policy(z, self.previous)
        self.previous = z
        return actions.cpu().numpy()
