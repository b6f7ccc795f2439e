"""The actor's plans: dream-SAC's policy rolled through the world model, for a planner's samples.

    prior = policy_prior(model, agent, to_env)
    units = prior(z0, noise)     # z0 [N, D] raw latents, noise [H, N*P, A] -> unit actions [N*P, H, A]

for P samples of each of N problems (rows of a problem adjacent).

Each row follows the actor's Gaussian, tanh(mean + std * noise[t]), through the model's imagined
latents (a zero noise row is the actor's mean sequence). A single MLP world model over a wide
latent (D > width / 2) is rolled out folded, as `MLPImagination` does: the actor's first layer
is linear in the latent, so its pre-activation moves by a fixed matrix of the model's features,
p_{t+1} = p_t + P g_t + q, and the D-wide latent is never built inside the loop (at D = 4096
the plain rollout spends most of an actor-guided CEM's time there). Otherwise `rollout` steps it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from train_robots.common.imagination import is_single_mlp, is_wide
from train_robots.common.sac import SACAgent

PolicyPrior = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def policy_prior(
    model: torch.nn.Module, agent: SACAgent, to_env: Callable[[torch.Tensor], torch.Tensor], fast: bool = True
) -> PolicyPrior:
    """The prior function of `agent` dreaming in `model` (see the module docstring); `to_env` maps
    unit actions to the environment's box, which the world model reads."""
    if fast and is_single_mlp(model) and is_wide(model):
        return FoldedPolicyPrior(model, agent, to_env)

    @torch.no_grad()
    def plain(z0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        z, units = z0.repeat_interleave(noise.shape[1] // len(z0), 0), []
        for step_noise in noise:
            mean, std = agent.action_distribution(z)
            units.append(torch.tanh(mean + std * step_noise))
            z = model.rollout(z, to_env(units[-1])[:, None])["z"][:, 0]
        return torch.stack(units, 1)

    return plain


class FoldedPolicyPrior:
    """The actor and a single MLP world model stepped together in their hidden spaces.

    With zn the model's normalised latent, u = in_z(zn) its first layer's latent part and g_t its
    features (`FoldedMLP`), zn_{t+1} = zn_t + s (W_out g_t + b_out). The actor reads
    x = (z - mu_a) / sigma_a with z = zn sigma_m + mu_m, so its first layer's pre-activation
    p = A x + b moves by A diag(sigma_m s / sigma_a) (W_out g_t + b_out) = P g_t + q."""

    def __init__(self, model: torch.nn.Module, agent: SACAgent, to_env: Callable[[torch.Tensor], torch.Tensor]):
        with torch.no_grad():  # constants of the planner, never trained
            self.model, self.agent, self.to_env = model, agent, to_env
            self.fold = model.fold()
            first = agent.actor.first_layer
            ratio = model.z_std * self.fold.scale / agent.z_std  # [D]: d x / d zn, times s
            self.p_t = ((first.weight * ratio) @ self.fold.w_out).T.contiguous()  # [W, hidden]
            self.q = first.weight @ (ratio * self.fold.b_out)
            self.m_t = self.fold.M.T.contiguous()

    @torch.no_grad()
    def __call__(self, z0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        samples = noise.shape[1] // len(z0)  # z0's D-wide products once per problem, not per sample
        u = self.fold.encode(self.model.normalize(z0)).repeat_interleave(samples, 0)
        p = self.agent.actor.first_layer(self.agent.normalize(z0)).repeat_interleave(samples, 0)
        units = []
        for t, step_noise in enumerate(noise):
            mean, log_std = self.agent.actor.head(p)
            units.append(torch.tanh(mean + log_std.exp() * step_noise))
            if t + 1 < len(noise):  # the last step's latent is read by nothing
                g = self.fold.features(u, self.model.normalize_action(self.to_env(units[-1])))
                u = u + g @ self.m_t + self.fold.c
                p = p + g @ self.p_t + self.q
        return torch.stack(units, 1)
