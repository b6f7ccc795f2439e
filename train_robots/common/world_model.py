"""The latent world model: predicts the next latent, the reward and the discount.

    model = load_world_model("checkpoints/reacher-easy/state/dynamics.pt", encoder={"name": "state", "dim": 6})
    with torch.no_grad():
        z1 = model.next(z, a)                      # [B, D] raw latents in and out
        out = model.rollout(z, actions)            # actions [B, H, A] -> z [B, H, D], reward, uncertainty

It works on RAW latents and normalises internally with the training data's statistics
(buffers saved with the weights). Every member predicts a residual in normalised units,
    zn_{t+1} = zn_t + delta_std * f(zn_t, a_t),
so an untrained model is the copy-last-latent baseline and the output scale is right from
the start. Kinds:
  * "mlp": f is an MLP whose first layer is LINEAR in zn (in_z(zn) + in_a(an)); a planner can
    therefore fold in_z . diag(delta_std) . out into a width x width matrix and roll out in
    hidden space without touching D inside the loop (see `fold`).
  * "transformer": a small causal Transformer over a window of past (latent, action) pairs;
    `next` without history uses a window of one, `rollout` feeds its own predictions back.
  * ensemble (any kind, K members): `next` is the member mean, `uncertainty` their disagreement
    (mean over dimensions of the members' standard deviation, normalised units).
Reward and discount heads read the same features as the latent head: r(z_t, a_t), gamma(z_t, a_t).
Imagined rewards are clamped to the range of the rewards the model was trained on (`clamp_reward`):
off the data the reward head extrapolates (on reacher, whose agent-step rewards lie in [0, 2], it
imagined -1.9 and 2.3), and a planner or a dreaming policy would chase rewards no state can pay.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from train_robots.common.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

KINDS = ("mlp", "transformer")
STD_FLOOR = 1e-4  # constant latent dimensions must not blow up when normalised
REWARD_RANGE = ("reward_low", "reward_high")


@dataclass(frozen=True)
class WorldModelConfig:
    latent_dim: int
    action_dim: int
    kind: str = "mlp"
    """mlp or transformer."""
    ensemble: int = 1
    """Members; disagreement between them is the uncertainty."""
    width: int = 256
    """Hidden width (MLP) or model width (Transformer)."""
    depth: int = 2
    """Hidden layers (MLP) or Transformer blocks."""
    window: int = 8
    """Past (latent, action) pairs the Transformer attends to (the MLP uses 1)."""
    heads: int = 4
    """Attention heads of the Transformer."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"world model kind {self.kind!r} is unknown; choose one of {KINDS}")
        if min(self.latent_dim, self.action_dim, self.ensemble, self.width, self.depth, self.window) < 1:
            raise ValueError(f"world model sizes must be positive: {self}")
        if self.kind == "transformer" and self.width % self.heads:
            raise ValueError(f"transformer width {self.width} must be a multiple of heads {self.heads}")

    @property
    def context(self) -> int:
        """History length a member reads (1 for the MLP)."""
        return self.window if self.kind == "transformer" else 1


class MLPCore(nn.Module):
    """Point-wise features: act(norm(in_z(zn) + in_a(an))), then `depth - 1` hidden layers."""

    def __init__(self, cfg: WorldModelConfig):
        super().__init__()
        self.in_z = nn.Linear(cfg.latent_dim, cfg.width)
        self.in_a = nn.Linear(cfg.action_dim, cfg.width, bias=False)
        self.in_norm = nn.LayerNorm(cfg.width)
        self.hidden = nn.Sequential(
            *[
                nn.Sequential(nn.Linear(cfg.width, cfg.width), nn.LayerNorm(cfg.width), nn.SiLU())
                for _ in range(cfg.depth - 1)
            ]
        )

    def forward(self, zn: Tensor, an: Tensor) -> Tensor:  # [..., D], [..., A] -> [..., W]
        return self.hidden(nn.functional.silu(self.in_norm(self.in_z(zn) + self.in_a(an))))


class TransformerCore(nn.Module):
    """Causal self-attention over a sequence of (latent, action) tokens."""

    def __init__(self, cfg: WorldModelConfig):
        super().__init__()
        self.embed = nn.Linear(cfg.latent_dim + cfg.action_dim, cfg.width)
        self.position = nn.Parameter(0.02 * torch.randn(cfg.window, cfg.width))
        layer = nn.TransformerEncoderLayer(
            cfg.width, cfg.heads, 2 * cfg.width, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, cfg.depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.width)

    def forward(self, zn: Tensor, an: Tensor) -> Tensor:  # [B, L, D], [B, L, A] -> [B, L, W]
        length = zn.shape[1]
        x = self.embed(torch.cat([zn, an], -1)) + self.position[:length]
        mask = nn.Transformer.generate_square_subsequent_mask(length, device=zn.device, dtype=x.dtype)
        return self.norm(self.blocks(x, mask=mask, is_causal=True))


class Member(nn.Module):
    """One predictor: a core and three heads (latent residual, reward, discount logit) on its features."""

    def __init__(self, cfg: WorldModelConfig):
        super().__init__()
        self.core = MLPCore(cfg) if cfg.kind == "mlp" else TransformerCore(cfg)
        self.out = nn.Linear(cfg.width, cfg.latent_dim)
        nn.init.zeros_(self.out.weight)  # start as the copy-last-latent baseline
        nn.init.zeros_(self.out.bias)
        self.reward_head = nn.Sequential(nn.Linear(cfg.width, cfg.width), nn.SiLU(), nn.Linear(cfg.width, 1))
        self.discount_head = nn.Linear(cfg.width, 1)
        nn.init.constant_(self.discount_head.bias, 3.0)  # most transitions continue

    def forward(self, zn: Tensor, an: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(standardised residual [.., D], reward [..], discount logit [..]) at every position."""
        return self.heads(self.core(zn, an))

    def last(self, zn: Tensor, an: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """`forward` at the last position of a history [B, L, .] only (the heads are the costly part at D=1024)."""
        return self.heads(self.core(zn, an)[:, -1])

    def heads(self, h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.out(h), self.reward_head(h).squeeze(-1), self.discount_head(h).squeeze(-1)


class WorldModel(nn.Module):
    """Dynamics + reward + discount over raw latents; see the module docstring."""

    def __init__(self, cfg: WorldModelConfig):
        super().__init__()
        self.cfg = cfg
        self.members = nn.ModuleList(Member(cfg) for _ in range(cfg.ensemble))
        d, a = cfg.latent_dim, cfg.action_dim
        self.register_buffer("z_mean", torch.zeros(d))
        self.register_buffer("z_std", torch.ones(d))
        self.register_buffer("a_mean", torch.zeros(a))
        self.register_buffer("a_std", torch.ones(a))
        self.register_buffer("delta_std", torch.ones(d))  # std of zn_{t+1} - zn_t
        # The training data's reward range (unbounded until set_statistics sees rewards).
        self.register_buffer("reward_low", torch.tensor(-math.inf))
        self.register_buffer("reward_high", torch.tensor(math.inf))

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False):
        """As nn.Module's; weights saved before the reward range was recorded keep this model's own
        range (unbounded for a fresh model: an old dynamics.pt imagines as it always did)."""
        own = {k: v for k, v in self.state_dict().items() if k in REWARD_RANGE and k not in state_dict}
        return super().load_state_dict({**state_dict, **own}, strict=strict, assign=assign)

    # ------------------------------------------------------------ normalisation
    @torch.no_grad()
    def set_statistics(self, z: Tensor, action: Tensor, reward: Tensor) -> None:
        """Fit the normalisers and the reward range to training data: z [N, T+1, D], action [N, T, A], reward [N, T]."""
        self.reward_low.copy_(reward.min())
        self.reward_high.copy_(reward.max())
        self.z_mean.copy_(z.mean((0, 1)))
        self.z_std.copy_(z.std((0, 1)).clamp_min(STD_FLOOR))
        self.a_mean.copy_(action.mean((0, 1)))
        self.a_std.copy_(action.std((0, 1)).clamp_min(STD_FLOOR))
        zn = self.normalize(z)
        self.delta_std.copy_((zn[:, 1:] - zn[:, :-1]).std((0, 1)).clamp_min(STD_FLOOR))

    def normalize(self, z: Tensor) -> Tensor:
        """Latent in the units planning costs and errors are measured in."""
        return (z - self.z_mean) / self.z_std

    def denormalize(self, zn: Tensor) -> Tensor:
        return zn * self.z_std + self.z_mean

    def normalize_action(self, a: Tensor) -> Tensor:
        return (a - self.a_mean) / self.a_std

    def clamp_reward(self, reward: Tensor) -> Tensor:
        """An imagined reward within the training data's range (see the module docstring)."""
        return torch.clamp(reward, self.reward_low, self.reward_high)

    # ------------------------------------------------------------ primitives
    def next(self, z: Tensor, a: Tensor) -> Tensor:
        """z [B, D], a [B, A] -> predicted next latent [B, D] (ensemble: member mean)."""
        return self.rollout(z, a[:, None])["z"][:, 0]

    def reward(self, z: Tensor, a: Tensor) -> Tensor:
        """Predicted reward of taking a in z, within the data's reward range: [B]."""
        return self.rollout(z, a[:, None])["reward"][:, 0]

    def discount(self, z: Tensor, a: Tensor) -> Tensor:
        """Predicted probability the episode continues after (z, a): [B] in [0, 1]."""
        return self.rollout(z, a[:, None])["discount"][:, 0]

    def uncertainty(self, z: Tensor, a: Tensor) -> Tensor:
        """Ensemble disagreement about the next latent: [B] (zeros for a single model)."""
        return self.rollout(z, a[:, None])["uncertainty"][:, 0]

    def rollout(self, z0: Tensor, actions: Tensor) -> dict[str, Tensor]:
        """Open-loop imagination: z0 [B, D], actions [B, H, A] -> z [B, H, D] (z[:, t] after
        actions[:, t]), reward / discount / uncertainty [B, H] (reward[:, t] for taking actions[:, t], within
        the data's reward range)."""
        out = self.rollout_normalized(self.normalize(z0), self.normalize_action(actions))
        out["z"] = self.denormalize(out.pop("zn"))
        return out

    def rollout_normalized(self, zn0: Tensor, an: Tensor) -> dict[str, Tensor]:
        """`rollout` in normalised units (inputs and "zn" output); the ensemble mean is fed back."""
        history_z, history_a = [zn0], []
        zs, rewards, discounts, spreads = [], [], [], []
        for t in range(an.shape[1]):
            history_a.append(an[:, t])
            hz = torch.stack(history_z[-self.cfg.context :], 1)
            ha = torch.stack(history_a[-self.cfg.context :], 1)
            preds = [self._predict(m, hz, ha) for m in self.members]  # each: last position only
            nxt = torch.stack([p[0] for p in preds])  # [K, B, D]
            zs.append(nxt.mean(0))
            rewards.append(self.clamp_reward(torch.stack([p[1] for p in preds]).mean(0)))
            discounts.append(torch.stack([p[2] for p in preds]).mean(0))
            spreads.append(nxt.std(0, unbiased=False).mean(-1))
            history_z.append(zs[-1])
        return {
            "zn": torch.stack(zs, 1),
            "reward": torch.stack(rewards, 1),
            "discount": torch.stack(discounts, 1),
            "uncertainty": torch.stack(spreads, 1),
        }

    def _predict(self, member: Member, hz: Tensor, ha: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """One member's (next zn, reward, discount) after the last pair of a history [B, L, .]."""
        delta, reward, logit = member.last(hz, ha)
        return hz[:, -1] + self.delta_std * delta, reward, torch.sigmoid(logit)

    # ------------------------------------------------------------ training
    def member_sequence(self, member: Member, zn: Tensor, an: Tensor, open_loop: bool) -> tuple[Tensor, Tensor, Tensor]:
        """One member over a sub-trajectory zn [B, L+1, D], an [B, L, A]:
        predicted zn[:, 1:] [B, L, D], reward [B, L], discount logit [B, L].

        Teacher-forced (`open_loop=False`): every position reads the TRUE history, in one
        parallel pass (for the MLP this is the one-step model). Open loop: the member feeds its
        own predictions back for L steps, as a planner will, so errors cannot compound unseen."""
        if not open_loop:
            delta, reward, logit = member(zn[:, :-1], an)
            return zn[:, :-1] + self.delta_std * delta, reward, logit
        history = [zn[:, 0]]
        outputs = []
        for t in range(an.shape[1]):
            lo = max(0, t + 1 - self.cfg.context)
            delta, reward, logit = member.last(torch.stack(history[lo:], 1), an[:, lo : t + 1])
            history.append(history[-1] + self.delta_std * delta)
            outputs.append((reward, logit))
        rewards, logits = (torch.stack(x, 1) for x in zip(*outputs))
        return torch.stack(history[1:], 1), rewards, logits

    # ------------------------------------------------------------ planning helper
    def fold(self) -> FoldedMLP:
        """The single-MLP model rewritten to roll out in hidden space (see FoldedMLP)."""
        if self.cfg.kind != "mlp" or self.cfg.ensemble != 1:
            raise ValueError("fold() needs a single MLP world model (--model mlp --ensemble 1)")
        return FoldedMLP(self)


class FoldedMLP:
    """A single MLP world model with the D-dimensional work hoisted out of the planning loop.

    The first layer is linear in zn, and zn_{t+1} = zn_t + s * (W_out g_t + b_out), so the
    input pre-activation u_t = W_z zn_t + b_z evolves as u_{t+1} = u_t + M g_t + c with
    M = W_z diag(s) W_out (width x width). A planner rolls out u and sums g; the latent is
    needed only when a cost reads it: zn_t = zn_0 + s * (W_out sum_{i<t} g_i + t b_out).
    """

    def __init__(self, model: WorldModel):
        member = model.members[0]
        core: MLPCore = member.core  # type: ignore[assignment]
        s = model.delta_std
        self.model, self.member = model, member
        self.w_out, self.b_out, self.scale = member.out.weight, member.out.bias, s
        self.M = core.in_z.weight @ (s[:, None] * member.out.weight)  # [W, W]
        self.c = core.in_z.weight @ (s * member.out.bias)  # [W]

    def encode(self, zn: Tensor) -> Tensor:
        """zn [B, D] -> u [B, W]."""
        return self.member.core.in_z(zn)

    def features(self, u: Tensor, an: Tensor) -> Tensor:
        """(u_t, normalised action) -> the features g_t [B, W] every head reads."""
        core = self.member.core
        return core.hidden(nn.functional.silu(core.in_norm(u + core.in_a(an))))

    def step(self, u: Tensor, an: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(u_t, normalised action) -> (u_{t+1}, features g_t [B, W], reward [B])."""
        g = self.features(u, an)
        return u + g @ self.M.T + self.c, g, self.model.clamp_reward(self.member.reward_head(g).squeeze(-1))

    def latent(self, zn0: Tensor, g_sum: Tensor, steps: int) -> Tensor:
        """zn after `steps` steps whose features sum to g_sum [B, W]."""
        return zn0 + self.scale * (g_sum @ self.w_out.T + steps * self.b_out)


def save_world_model(
    path: Path, model: WorldModel, task: str, encoder: dict, step: int = 0, metrics: dict | None = None, **extra
) -> None:
    """Write a "dynamics" checkpoint load_world_model can read; `extra` adds fields
    (train: the training config, optimizer state, ...)."""
    train = extra.pop("train", {})
    payload = {
        "kind": "dynamics",
        "model": model.state_dict(),
        "config": {"world_model": asdict(model.cfg), "train": train},
        "task": task,
        "encoder": dict(encoder),
        "step": step,
        "metrics": metrics or {},
        **extra,
    }
    save_checkpoint(Path(path), payload)


def load_world_model(path: Path, encoder: dict | None = None, task: str | None = None) -> WorldModel:
    """A trained world model (eval mode, CPU) from dynamics.pt; refuses another task or encoder."""
    payload = load_checkpoint(Path(path), "dynamics", encoder=encoder, task=task)
    fields = payload["config"].get("world_model")
    if not isinstance(fields, dict):
        raise CheckpointError(f"{path}: config has no 'world_model' entry; is it a train_dynamics.py checkpoint?")
    if fields.get("latent_dim") != payload["encoder"].get("dim"):
        raise CheckpointError(
            f"{path}: model latent_dim {fields.get('latent_dim')} differs from its encoder dim "
            f"{payload['encoder'].get('dim')}"
        )
    model = WorldModel(WorldModelConfig(**fields))
    if any(k not in payload["model"] for k in REWARD_RANGE):
        print(f"note: {path} predates the recorded reward range: its imagined rewards are not clamped (retrain it)")
    model.load_state_dict(payload["model"])
    return model.eval()
