"""Soft Actor-Critic over latents: tanh-Gaussian actor, twin Q critics, learned temperature.

- The actor maps a latent to a Gaussian over pre-tanh actions; tanh squashes it into the
  action box. It acts in one forward pass; evaluation takes the deterministic mean action.
- Two Q critics and their Polyak-averaged targets; the target is the minimum of the two
  (clipped double Q), which curbs the over-estimation that a learned model invites.
- The entropy temperature alpha is tuned to keep the policy entropy near -|A|.
- Networks read normalised latents: the agent keeps the dataset's latent mean and std as
  buffers, so callers (the training loop, `SACController`) pass raw latents.

`SACAgent.update(batch)` is one gradient step of critics, actor and temperature on a batch
of transitions {z, action, reward, next_z, discount} (raw latents). `bc_z`/`bc_action`
optionally pull the actor's mean action towards expert actions (TD3+BC-style weight).
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from train_robots.common.checkpoint import load_checkpoint, save_checkpoint

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


@dataclass
class SACConfig:
    """Sizes and learning rates of the agent (stored in the checkpoint to rebuild it)."""

    latent_dim: int
    action_dim: int
    hidden: int = 256
    layers: int = 2
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    alpha_lr: float = 3e-4
    gamma: float = 0.99
    tau: float = 0.005
    init_alpha: float = 0.1
    target_entropy: float | None = None
    """Default -action_dim (the usual SAC heuristic)."""
    bc_weight: float = 0.0
    """Weight of the behaviour-cloning term, relative to the mean |Q| (0: pure SAC)."""


def mlp(inputs: int, outputs: int, hidden: int, layers: int) -> nn.Sequential:
    """Linear-LayerNorm-ReLU blocks: LayerNorm keeps critics tame on off-data model states."""
    blocks: list[nn.Module] = []
    width = inputs
    for _ in range(layers):
        blocks += [nn.Linear(width, hidden), nn.LayerNorm(hidden), nn.ReLU()]
        width = hidden
    blocks.append(nn.Linear(width, outputs))
    return nn.Sequential(*blocks)


class Actor(nn.Module):
    """Normalised latent -> tanh-Gaussian over the action box."""

    def __init__(self, cfg: SACConfig):
        super().__init__()
        self.net = mlp(cfg.latent_dim, 2 * cfg.action_dim, cfg.hidden, cfg.layers)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(self.first_layer(x))

    @property
    def first_layer(self) -> nn.Linear:
        """The layer linear in the latent (a planner folds it into the world model's rollout)."""
        return self.net[0]

    def head(self, pre: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, log_std) [B, A] from the first layer's output."""
        mean, log_std = self.net[1:](pre).chunk(2, dim=-1)
        return mean, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)

    def sample(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A reparameterised action in [-1, 1] and its log-probability (tanh-corrected)."""
        mean, log_std = self(x)
        std = log_std.exp()
        pre = mean + std * torch.randn_like(mean)
        log_prob = (-0.5 * ((pre - mean) / std) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        # log|d tanh(u)/du| = 2 (log 2 - u - softplus(-2u)), numerically stable
        log_prob = log_prob - (2 * (math.log(2) - pre - F.softplus(-2 * pre))).sum(-1)
        return torch.tanh(pre), log_prob


class TwinQ(nn.Module):
    def __init__(self, cfg: SACConfig):
        super().__init__()
        self.q1 = mlp(cfg.latent_dim + cfg.action_dim, 1, cfg.hidden, cfg.layers)
        self.q2 = mlp(cfg.latent_dim + cfg.action_dim, 1, cfg.hidden, cfg.layers)

    def forward(self, x: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        xa = torch.cat([x, a], dim=-1)
        return self.q1(xa).squeeze(-1), self.q2(xa).squeeze(-1)


class SACAgent(nn.Module):
    """Actor, twin critics, their targets and the temperature; optimisers kept alongside."""

    def __init__(
        self,
        cfg: SACConfig,
        z_mean: np.ndarray,
        z_std: np.ndarray,
        action_low: np.ndarray,
        action_high: np.ndarray,
    ):
        super().__init__()
        self.cfg = cfg
        self.actor = Actor(cfg)
        self.critic = TwinQ(cfg)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_alpha = nn.Parameter(torch.tensor(math.log(cfg.init_alpha)))
        self.register_buffer("z_mean", torch.as_tensor(z_mean, dtype=torch.float32))
        self.register_buffer("z_std", torch.as_tensor(np.maximum(z_std, 1e-6), dtype=torch.float32))
        self.register_buffer("action_low", torch.as_tensor(action_low, dtype=torch.float32))
        self.register_buffer("action_high", torch.as_tensor(action_high, dtype=torch.float32))
        self.target_entropy = -float(cfg.action_dim) if cfg.target_entropy is None else cfg.target_entropy
        # Fused Adam: one kernel per step instead of a loop over parameters (measured 1-2 ms of a
        # 20 ms update on one CPU thread; faster on CUDA too).
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.actor_lr, fused=True)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.critic_lr, fused=True)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=cfg.alpha_lr, fused=True)

    # ------------------------------------------------------------ acting

    def normalize(self, z: torch.Tensor) -> torch.Tensor:
        return (z - self.z_mean) / self.z_std

    def to_env(self, unit: torch.Tensor) -> torch.Tensor:
        """[-1, 1] -> the environment's action box."""
        return self.action_low + (unit + 1) * 0.5 * (self.action_high - self.action_low)

    def to_unit(self, action: torch.Tensor) -> torch.Tensor:
        return 2 * (action - self.action_low) / (self.action_high - self.action_low) - 1

    def act(self, z: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        """Raw latents [B, D] -> actions [B, A] in the environment's box."""
        x = self.normalize(z)
        if deterministic:
            return self.to_env(torch.tanh(self.actor(x)[0]))
        return self.to_env(self.actor.sample(x)[0])

    def value(self, z: torch.Tensor) -> torch.Tensor:
        """V(z) [B] of raw latents: the critics' minimum at the actor's mean action (what a
        planner bootstraps its imagined return with at the horizon)."""
        x = self.normalize(z)
        return torch.min(*self.critic(x, torch.tanh(self.actor(x)[0])))

    def action_distribution(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, std) [B, A] of the actor's Gaussian before the tanh squash, for raw latents."""
        mean, log_std = self.actor(self.normalize(z))
        return mean, log_std.exp()

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.exp()

    # ------------------------------------------------------------ learning

    def update(
        self,
        batch: dict[str, torch.Tensor],
        bc_z: torch.Tensor | None = None,
        bc_action: torch.Tensor | None = None,
    ) -> dict[str, float]:
        """One step of critics, actor, temperature and targets; returns the losses."""
        x, x2 = self.normalize(batch["z"]), self.normalize(batch["next_z"])
        a = self.to_unit(batch["action"])
        alpha = self.alpha.detach()
        with torch.no_grad():
            a2, logp2 = self.actor.sample(x2)
            q_next = torch.min(*self.critic_target(x2, a2)) - alpha * logp2
            target = batch["reward"] + self.cfg.gamma * batch["discount"] * q_next
        q1, q2 = self.critic(x, a)
        critic_loss = F.mse_loss(q1, target) + F.mse_loss(q2, target)
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_opt.step()

        # The actor's loss needs the critics' gradient with respect to the action only: frozen,
        # their weight gradients (two of the update's largest products) are never computed.
        self.critic.requires_grad_(False)
        new_a, logp = self.actor.sample(x)
        q_pi = torch.min(*self.critic(x, new_a))
        actor_loss = (alpha * logp - q_pi).mean()
        bc_loss = torch.zeros(())
        if self.cfg.bc_weight > 0 and bc_z is not None and bc_action is not None:
            bc_mean = torch.tanh(self.actor(self.normalize(bc_z))[0])
            bc_loss = F.mse_loss(bc_mean, self.to_unit(bc_action).clamp(-0.999, 0.999))
            actor_loss = actor_loss + self.cfg.bc_weight * q_pi.abs().mean().detach() * bc_loss
        self.actor_opt.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_opt.step()
        self.critic.requires_grad_(True)

        alpha_loss = -(self.log_alpha * (logp.detach() + self.target_entropy)).mean()
        self.alpha_opt.zero_grad(set_to_none=True)
        alpha_loss.backward()
        self.alpha_opt.step()

        with torch.no_grad():
            for p, tp in zip(self.critic.parameters(), self.critic_target.parameters()):
                tp.lerp_(p, self.cfg.tau)
        return {
            "critic_loss": critic_loss.item(),
            "actor_loss": actor_loss.item(),
            "bc_loss": bc_loss.item(),
            "alpha": alpha.item(),
            "q": q1.mean().item(),
            "entropy": -logp.mean().item(),
        }

    def optimizer_state(self) -> dict:
        return {
            "actor": self.actor_opt.state_dict(),
            "critic": self.critic_opt.state_dict(),
            "alpha": self.alpha_opt.state_dict(),
        }

    def load_optimizer_state(self, state: dict) -> None:
        self.actor_opt.load_state_dict(state["actor"])
        self.critic_opt.load_state_dict(state["critic"])
        self.alpha_opt.load_state_dict(state["alpha"])


class SACController:
    """The Controller of common/rollout.py: the actor's deterministic mean action."""

    def __init__(self, agent: SACAgent, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.agent = agent.to(self.device).eval()

    def reset(self, envs, seeds) -> None:
        """A feed-forward policy keeps no episode state."""

    @torch.inference_mode()
    def act(self, z: np.ndarray) -> np.ndarray:
        """Latents [N, D] -> actions [N, A]."""
        latent = torch.as_tensor(np.asarray(z, dtype=np.float32), device=self.device)
        return self.agent.act(latent, deterministic=True).cpu().numpy()


# ---------------------------------------------------------------- checkpoints

KIND = "sac"
"""The checkpoint kind of dream-SAC's sac.pt; other agents (the locomotion experts) pass their own."""


def save_agent(
    path: Path,
    agent: SACAgent,
    task: str,
    encoder: dict,
    step: int,
    metrics: dict,
    config: dict,
    extra: dict | None = None,
    kind: str = KIND,
) -> None:
    """sac.pt: the agent (weights + stats), its optimisers, the run's config and progress."""
    save_checkpoint(
        path,
        {
            "kind": kind,
            "model": {k: v.detach().cpu() for k, v in agent.state_dict().items()},
            "optimizer": agent.optimizer_state(),
            "sac": asdict(agent.cfg),
            "config": config,
            "task": task,
            "encoder": encoder,
            "step": step,
            "metrics": metrics,
            **(extra or {}),
        },
    )


def load_agent(
    path: Path,
    encoder: dict | None = None,
    task: str | None = None,
    with_optimizer: bool = True,
    kind: str = KIND,
) -> tuple[SACAgent, dict]:
    """Rebuild an agent from sac.pt (refusing another task or encoder); returns it and the payload."""
    payload = load_checkpoint(path, kind, encoder=encoder, task=task)
    cfg = SACConfig(**payload["sac"])
    state = payload["model"]
    agent = SACAgent(
        cfg,
        z_mean=state["z_mean"].numpy(),
        z_std=state["z_std"].numpy(),
        action_low=state["action_low"].numpy(),
        action_high=state["action_high"].numpy(),
    )
    agent.load_state_dict(state)
    if with_optimizer and "optimizer" in payload:
        agent.load_optimizer_state(payload["optimizer"])
    return agent, payload


# ---------------------------------------------------------------- replay


class ReplayBuffer:
    """A ring buffer of transitions on one device; the oldest are overwritten first."""

    FIELDS = ("z", "action", "reward", "next_z", "discount")

    def __init__(self, capacity: int, latent_dim: int, action_dim: int, device: torch.device | str = "cpu"):
        self.capacity, self.size, self.cursor = capacity, 0, 0
        shapes = {"z": (latent_dim,), "action": (action_dim,), "reward": (), "next_z": (latent_dim,), "discount": ()}
        self.data = {k: torch.zeros((capacity, *shape), device=device) for k, shape in shapes.items()}

    def __len__(self) -> int:
        return self.size

    def add(self, batch: dict[str, torch.Tensor]) -> None:
        n = len(batch["z"])
        if n > self.capacity:  # keep the newest
            batch = {k: v[-self.capacity :] for k, v in batch.items()}
            n = self.capacity
        index = (self.cursor + torch.arange(n)) % self.capacity
        for key in self.FIELDS:
            self.data[key][index.to(self.data[key].device)] = batch[key].to(self.data[key])
        self.cursor = (self.cursor + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        index = torch.randint(self.size, (batch_size,), generator=generator)
        return {k: v[index.to(v.device)] for k, v in self.data.items()}

    def state_dict(self) -> dict:
        """The stored transitions (the filled part only, on the CPU) and where the ring stands."""
        return {
            "capacity": self.capacity,
            "size": self.size,
            "cursor": self.cursor,
            "data": {k: v[: self.size].cpu().clone() for k, v in self.data.items()},  # not the whole storage
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore `state_dict()`. Into a buffer of the same capacity the ring is restored as it was (so
        a resumed run samples exactly what it would have); into another one that holds them all, the
        transitions oldest first."""
        size, cursor = state["size"], state["cursor"]
        if size > self.capacity:
            raise ValueError(f"a replay buffer of {size} transitions does not fit one of capacity {self.capacity}")
        stored = state["data"]
        for key, value in stored.items():
            if value.shape[1:] != self.data[key].shape[1:]:
                raise ValueError(
                    f"replay buffer field {key!r} has shape {tuple(value.shape[1:])} per transition, "
                    f"expected {tuple(self.data[key].shape[1:])}"
                )
        if state["capacity"] != self.capacity:
            stored = {k: v.roll(-cursor, 0) if size == state["capacity"] else v for k, v in stored.items()}
            cursor = size % self.capacity
        for key, value in stored.items():
            self.data[key][:size] = value.to(self.data[key])
        self.size, self.cursor = size, cursor
