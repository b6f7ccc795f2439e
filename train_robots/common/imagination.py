"""Imagination for planners: roll a world model out over a batch of planning problems.

`imagination(model, ...)` returns a function

    imagine(z0 [N, D], actions [N, S, H, A], per_step, final_latent=False) -> dict(
        z           [N, S, H or 1, D]  imagined latents in cost units (float32),
        reward      [N, S, H]          predicted reward per step,
        uncertainty [N, S, H]          ensemble disagreement per step,
        z_final     [N, S, D]          the last imagined latent, raw (only with final_latent))

for N independent problems (one per evaluation episode) of S candidate sequences each, built
on the world model's primitives. A single MLP world model gets `MLPImagination` (the same
numbers as `rollout`, less work: what depends on z0 alone is computed once per problem, not
once per sample); any other model (ensemble, Transformer) uses `rollout`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch

from train_robots.common.runtime import ConfigError

PRECISIONS = ("auto", "fp32", "bf16")

Imagine = Callable[..., dict[str, torch.Tensor]]


def imagination(
    model: torch.nn.Module,
    weight: torch.Tensor | None,
    need_reward: bool,
    precision: str = "fp32",
    fast: bool = True,
) -> Imagine:
    """The imagine function of a world model (see the module docstring). `weight` turns the
    model's standardized latent into cost units (None: as is); `precision="bf16"` runs the
    matrix products in bfloat16 (the running state and the costs stay float32)."""
    if fast and is_single_mlp(model):
        return MLPImagination(model, weight, need_reward=need_reward, precision=precision)
    device_type = model_device(model).type

    def plain(z0: torch.Tensor, actions: torch.Tensor, per_step: bool, final_latent: bool = False):
        n, s = actions.shape[:2]
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            out = model.rollout(z0.repeat_interleave(s, 0), actions.flatten(0, 1))
        z = model.normalize((out["z"] if per_step else out["z"][:, -1:]).float())
        z = z if weight is None else z * weight
        imagined = {
            "z": z.unflatten(0, (n, s)),
            "reward": out["reward"].float().unflatten(0, (n, s)),
            "uncertainty": out["uncertainty"].float().unflatten(0, (n, s)),
        }
        if final_latent:
            imagined["z_final"] = out["z"][:, -1].float().unflatten(0, (n, s))
        return imagined

    return plain


def is_single_mlp(model: torch.nn.Module) -> bool:
    """Whether `model` is one MLP world model (no ensemble) that can be folded (`WorldModel.fold`)."""
    cfg = getattr(model, "cfg", None)
    return getattr(cfg, "kind", None) == "mlp" and cfg.ensemble == 1 and hasattr(model, "fold")


def is_wide(model: torch.nn.Module) -> bool:
    """Whether the model's latent is wider than half its hidden width: then a rollout is cheaper
    folded into the hidden space (two width x width products a step instead of two width x D)."""
    cfg = model.cfg
    return 2 * cfg.latent_dim > cfg.width


class MLPImagination:
    """Roll a single MLP world model out for planning, skipping what the cost does not read
    (the discount head; the reward head unless rewards are weighted).

    Wide latents (D > width / 2) are rolled out folded (`WorldModel.fold`): with
    x_t = in_z(zn_t) + in_a(a_t) the first layer's pre-activation and the residual
    zn_{t+1} = zn_t + s * out(g_t), x_{t+1} = x_t + (in_a(a_{t+1}) - in_a(a_t) + c) + M g_t:
    per step two width x width products instead of two width x D ones, and the latent is
    rebuilt (in cost units: the output layer absorbs s and the unit weight) only where the
    cost reads it. Narrow latents step zn directly. Either way z0's own terms are computed once
    per problem and shared by its S samples."""

    def __init__(self, model: torch.nn.Module, weight: torch.Tensor | None, need_reward: bool, precision: str = "fp32"):
        dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        with torch.no_grad():  # constants of the planner, never trained
            fold = model.fold()
            member, core = fold.member, fold.member.core
            self.model, self.fold, self.dtype = model, fold, dtype
            self.weight = torch.ones_like(fold.scale) if weight is None else weight
            self.folded = is_wide(model)
            self.in_z, self.in_norm, self.in_a = core.in_z, core.in_norm, core.in_a
            self.hidden = copy.deepcopy(core.hidden).to(dtype)
            # The reward head costs as much as a hidden layer: built only when a cost reads it.
            self.reward_head = copy.deepcopy(member.reward_head).to(dtype) if need_reward else None
            self.m_t = fold.M.T.contiguous().to(dtype)
            self.w_out_t = fold.w_out.T.contiguous().to(dtype)  # direct: zn += s * (g W_out^T + b)
            # folded: (zn_t) * weight = zn_0 * weight + (sum g) @ out_t + t * out_b
            self.out_t = (fold.w_out.T * (fold.scale * self.weight)).contiguous().to(dtype)
            self.out_b = fold.b_out * fold.scale * self.weight

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return self.hidden(torch.nn.functional.silu(self.in_norm(x)).to(self.dtype))

    def _reward(self, g: torch.Tensor, rewards: list) -> None:
        if self.reward_head is not None:
            rewards.append(self.model.clamp_reward(self.reward_head(g).squeeze(-1).float()))

    def __call__(self, z0: torch.Tensor, actions: torch.Tensor, per_step: bool, final_latent: bool = False):
        n, s, horizon = actions.shape[:3]
        zn0 = self.model.normalize(z0)  # [N, D]
        an = self.model.normalize_action(actions.flatten(0, 1)).transpose(0, 1)  # [H, N*S, A], time-major
        rollout = self._folded if self.folded else self._direct
        z, rewards, zn_final = rollout(zn0, an, s, per_step, final_latent)
        zeros = z.new_zeros(n, s, horizon)
        reward = torch.stack(rewards, 1).unflatten(0, (n, s)) if rewards else zeros
        imagined = {"z": z, "reward": reward, "uncertainty": zeros}
        if final_latent:
            imagined["z_final"] = self.model.denormalize(zn_final).unflatten(0, (n, s))
        return imagined

    def _direct(self, zn0, an, samples, per_step, final_latent):
        fold, zs, rewards = self.fold, [], []
        zn = zn0.repeat_interleave(samples, 0)  # narrow latents: cheap to carry per sample
        a_in = self.in_a(an)
        for t in range(an.shape[0]):
            g = self._features(self.in_z(zn) + a_in[t])
            self._reward(g, rewards)
            zn = zn + fold.scale * ((g @ self.w_out_t).float() + fold.b_out)
            if per_step:
                zs.append(zn)
        z = (torch.stack(zs, 1) if per_step else zn[:, None]) * self.weight
        return z.unflatten(0, (zn0.shape[0], samples)), rewards, zn

    def _folded(self, zn0, an, samples, per_step, final_latent):
        horizon, n = an.shape[0], zn0.shape[0]
        x = self.in_a(an[0]) + self.fold.encode(zn0).repeat_interleave(samples, 0)
        # The action and bias parts of x_{t+1} - x_t in one product (in_a is linear, bias-free).
        x_step = torch.nn.functional.linear(an[1:] - an[:-1], self.in_a.weight, self.fold.c)
        features, rewards, g_sum = [], [], torch.zeros_like(x)
        for t in range(horizon):
            g = self._features(x)
            self._reward(g, rewards)
            if per_step:
                features.append(g)
            else:
                g_sum += g  # a running sum: stacking [N*S, H, W] costs a copy
            if t + 1 < horizon:
                x = x + x_step[t]
                x += g @ self.m_t
        start = (zn0 * self.weight)[:, None, None]  # [N, 1, 1, D]: shared by the problem's samples
        if per_step:
            steps = torch.arange(1, horizon + 1, device=x.device, dtype=torch.float32)[:, None]
            g_sums = torch.stack(features, 1).float().cumsum(1).to(self.dtype)  # [N*S, H, W]
            moved = steps * self.out_b + (g_sums @ self.out_t).float()  # [N*S, H, D]
            g_sum = g_sums[:, -1]
        else:
            moved = (horizon * self.out_b + (g_sum.to(self.dtype) @ self.out_t).float())[:, None]
        zn_final = None
        if final_latent:  # the raw latent, unweighted: zn_0 + s (W_out sum g + H b_out)
            moved_raw = self.fold.scale * ((g_sum.to(self.dtype) @ self.w_out_t).float() + horizon * self.fold.b_out)
            zn_final = zn0.repeat_interleave(samples, 0) + moved_raw
        return start + moved.unflatten(0, (n, samples)), rewards, zn_final


def resolve_precision(name: str, device: torch.device) -> str:
    """auto: bfloat16 products where the hardware runs them natively (recent GPUs, AVX512-BF16/AMX CPUs)."""
    if name not in PRECISIONS:
        raise ConfigError(f"--precision {name!r} is unknown; choose one of {list(PRECISIONS)}")
    if name != "auto":
        return name
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if device.type == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"


def model_device(model: torch.nn.Module) -> torch.device:
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return torch.device("cpu")


def imagined_bytes_per_problem(imagine: Imagine, model: torch.nn.Module, samples: int, horizon: int) -> int:
    """A generous estimate of the memory one planning problem's imagination holds at once."""
    cfg = model.cfg
    if isinstance(imagine, MLPImagination):  # a few width-wide running states and the final latents
        return 4 * samples * (8 * cfg.width + 2 * cfg.latent_dim + (horizon * cfg.latent_dim if imagine.folded else 0))
    # rollout keeps every step's latent, and each member's prediction of it
    return 4 * samples * horizon * (cfg.latent_dim + cfg.width) * (cfg.ensemble + 2)
