"""Planning by imagining: pick actions whose imagined future ends near the goal latent.

Three sampling planners over one world model, batched in torch (the same code on CPU and
CUDA, seeded by a `torch.Generator`):

- `random`: random shooting, uniform action sequences; the best one seen is executed.
  It draws `samples` sequences in each of `iterations` rounds, the same budget as CEM.
- `cem`: the cross-entropy method. Sequences are drawn from a Gaussian (clipped to the
  action bounds), the `elites` cheapest refit its mean and std, `iterations` times; the
  std never falls below `min_std`. The next plan starts from this one, shifted by the steps
  executed since (receding horizon).
- `mppi`: model-predictive path integral. Each round moves the mean to the average of all
  samples weighted by exp(-(cost - min cost) / (temperature * std of costs)), and (unless
  `mppi_adapt_std` is off, classical MPPI) the std to their weighted spread, as TD-MPC2
  does. Warm-started like CEM.

Costs are distances between the imagined latent and `z_goal`: L1 (V-JEPA 2-AC's energy),
L2 (root mean square) or cosine distance, at the final imagined step or averaged over every
step; optionally minus `reward_weight` times the mean predicted reward and plus
`uncertainty_penalty` times the mean ensemble disagreement. Distances are measured in the
encoder's own geometry (centred, one global scale: `cost_units="latent"`) or with every
dimension standardized by its data std (`"standardized"`, the world model's `normalize`).
Planners touch the world model only through its primitives (`rollout`, `normalize`);
`imagination` picks an exact, faster formulation where the model allows one
(`MLPImagination`).

Actions are planned in [-1, 1] units and mapped to the environment's bounds, so a sample
can never leave them.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from train_robots.common.encoders import Encoder
from train_robots.common.envs import ControlEnv
from train_robots.common.goals import Goal, goal_from_expert
from train_robots.common.runtime import ConfigError

PLANNERS = ("random", "cem", "mppi")
COSTS = ("l1", "l2", "cosine")
COST_AT = ("final", "every")
PRECISIONS = ("auto", "fp32", "bf16")
COST_UNITS = ("latent", "standardized")


@dataclass
class PlannerConfig:
    planner: str = "cem"
    """random (shooting), cem or mppi."""
    samples: int = 1000
    """Action sequences imagined per iteration."""
    horizon: int = 10
    """Agent steps imagined ahead."""
    iterations: int = 5
    """Sampling rounds per plan (random shooting spends the same budget)."""
    elites: int = 64
    """CEM: the cheapest sequences that refit the sampling distribution."""
    init_std: float = 1.0
    """Std of the first sampling distribution, in [-1, 1] action units (MPPI keeps it)."""
    min_std: float = 0.05
    """CEM/MPPI: floor of the refit std, so the search never collapses to a point."""
    temperature: float = 0.5
    """MPPI: softness of the weights, in units of the std of the sampled costs."""
    noise_beta: float = 0.0
    """CEM/MPPI: colour of the sampling noise along time, power ~ 1/f^beta (0: white; 2: iCEM's
    choice, so sustained pushes are sampled as often as jitter)."""
    mppi_adapt_std: bool = True
    """MPPI: refit the std to the weighted samples too (as TD-MPC2); False keeps it fixed (classical MPPI)."""
    cost: str = "l1"
    """Latent distance to the goal: l1, l2 or cosine (in `cost_units`)."""
    cost_at: str = "final"
    """final: distance of the last imagined latent; every: mean over the imagined steps."""
    cost_units: str = "latent"
    """latent: the encoder's own geometry (centred, one global scale); standardized: every
    dimension divided by its own data std (the world model's `normalize`)."""
    reward_weight: float = 0.1
    """Subtract this times the mean predicted reward per step (0: goal distance only)."""
    uncertainty_penalty: float = 0.0
    """Add this times the mean ensemble disagreement per step (0: off)."""
    replan_every: int = 1
    """Agent steps between plans (receding horizon; the plan's next actions run meanwhile)."""
    warm_start: bool = True
    """CEM/MPPI: start from the previous plan shifted by one step."""
    precision: str = "auto"
    """Matrix products in fp32 or bf16; auto: bf16 where the hardware runs it natively."""

    def validate(self) -> None:
        checks = [
            (self.planner in PLANNERS, f"--planner {self.planner!r} is unknown; choose one of {list(PLANNERS)}"),
            (self.cost in COSTS, f"--cost {self.cost!r} is unknown; choose one of {list(COSTS)}"),
            (self.cost_at in COST_AT, f"--cost-at {self.cost_at!r} is unknown; choose one of {list(COST_AT)}"),
            (
                self.cost_units in COST_UNITS,
                f"--cost-units {self.cost_units!r} is unknown; choose one of {list(COST_UNITS)}",
            ),
            (self.samples >= 2, f"--samples must be at least 2, got {self.samples}"),
            (self.horizon >= 1, f"--horizon must be at least 1, got {self.horizon}"),
            (self.iterations >= 1, f"--iterations must be at least 1, got {self.iterations}"),
            (2 <= self.elites <= self.samples, f"--elites must lie in [2, --samples], got {self.elites}"),
            (self.init_std > 0, f"--init-std must be positive, got {self.init_std}"),
            (self.min_std >= 0, f"--min-std must be >= 0, got {self.min_std}"),
            (self.temperature > 0, f"--temperature must be positive, got {self.temperature}"),
            (self.noise_beta >= 0, f"--noise-beta must be >= 0, got {self.noise_beta}"),
            (
                self.precision in PRECISIONS,
                f"--precision {self.precision!r} is unknown; choose one of {list(PRECISIONS)}",
            ),
            (self.uncertainty_penalty >= 0, f"--uncertainty-penalty must be >= 0, got {self.uncertainty_penalty}"),
            (
                1 <= self.replan_every <= self.horizon,
                f"--replan-every must lie in [1, --horizon], got {self.replan_every}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Plan:
    actions: np.ndarray
    """[H, A] in the environment's units."""
    cost: float
    """Cost of the executed sequence (CEM/MPPI: of their final mean)."""
    best_cost: list[float] = field(default_factory=list)
    """Per iteration: the cheapest sampled sequence."""
    mean_cost: list[float] = field(default_factory=list)
    """Per iteration: the mean cost of the samples."""
    imagined_distance: np.ndarray | None = None
    """[H] goal distance of each imagined latent along the executed sequence."""
    seconds: float = 0.0


class Planner:
    """A sampling planner over a world model; `plan(z, z_goal)` -> `Plan`."""

    def __init__(
        self,
        model: torch.nn.Module,
        cfg: PlannerConfig,
        action_low: np.ndarray,
        action_high: np.ndarray,
        seed: int = 0,
        device: torch.device | str | None = None,
        goal_dims: np.ndarray | None = None,
    ):
        """`goal_dims`: a boolean mask of the latent dimensions the goal distance compares
        (None: all; the state encoder leaves out velocities, which no goal image shows)."""
        cfg.validate()
        self.model, self.cfg = model, cfg
        self.device = torch.device(device) if device is not None else _model_device(model)
        low = torch.as_tensor(np.asarray(action_low, np.float32), device=self.device)
        high = torch.as_tensor(np.asarray(action_high, np.float32), device=self.device)
        self._mid, self._half = (high + low) / 2, (high - low) / 2
        self.action_dim = int(low.shape[0])
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.precision = resolve_precision(cfg.precision, self.device)
        self.imagine = imagination(model, cfg, self.precision, goal_dims=goal_dims)
        self._unit_weight = cost_weight(model, cfg.cost_units, goal_dims)
        self._previous: torch.Tensor | None = None
        self._executed = 1

    def reset(self) -> None:
        """Forget the previous plan (a new episode)."""
        self._previous = None

    @torch.inference_mode()
    def plan(self, z: np.ndarray | torch.Tensor, z_goal: np.ndarray | torch.Tensor, executed: int = 1) -> Plan:
        """Plan from latent `z` toward `z_goal`; `executed`: actions of the previous plan run since it was made."""
        start = time.perf_counter()
        self._executed = executed
        z0 = torch.as_tensor(z, dtype=torch.float32, device=self.device).reshape(1, -1)
        goal = self.embed(torch.as_tensor(z_goal, dtype=torch.float32, device=self.device).reshape(1, -1))
        search = {"random": self._random, "cem": self._cem, "mppi": self._mppi}[self.cfg.planner]
        units, history = search(z0, goal)
        self._previous = units
        cost, distance = self._evaluate(z0, goal, units[None], per_step=True)
        actions = self._to_env(units)
        best, mean = torch.stack([torch.stack(pair) for pair in history]).T.tolist()
        return Plan(
            actions=actions.cpu().numpy(),
            cost=float(cost[0]),
            best_cost=best,
            mean_cost=mean,
            imagined_distance=distance[0].cpu().numpy(),
            seconds=time.perf_counter() - start,
        )

    def embed(self, z: torch.Tensor) -> torch.Tensor:
        """Raw latents [..., D] -> the space goal distances are measured in."""
        return self._in_cost_units(self.model.normalize(z))

    def _in_cost_units(self, zn: torch.Tensor) -> torch.Tensor:
        return zn if self._unit_weight is None else zn * self._unit_weight

    @torch.inference_mode()
    def distance(self, z: np.ndarray, z_goal: np.ndarray) -> np.ndarray:
        """Goal distance (this planner's cost and units) of raw latents [T, D] -> [T]."""
        goal = torch.as_tensor(np.asarray(z_goal), dtype=torch.float32, device=self.device).reshape(1, -1)
        zs = torch.as_tensor(np.asarray(z), dtype=torch.float32, device=self.device).reshape(1, -1, goal.shape[1])
        return goal_distance(self.embed(zs), self.embed(goal), self.cfg.cost)[0].cpu().numpy()

    # -- searches: each returns the chosen sequence [H, A] in [-1, 1] units and per-iteration (best, mean) costs

    # History entries stay tensors until the plan is done: one device sync per plan, not per iteration.

    def _random(self, z0, goal):
        shape = (self.cfg.samples, self.cfg.horizon, self.action_dim)
        best, best_cost, history = None, None, []
        for _ in range(self.cfg.iterations):
            units = torch.rand(shape, generator=self.generator, device=self.device) * 2 - 1
            cost = self._evaluate(z0, goal, units)[0]
            i = torch.argmin(cost)
            if best is None:
                best, best_cost = units[i], cost[i]
            else:
                best = torch.where(cost[i] < best_cost, units[i], best)
                best_cost = torch.minimum(cost[i], best_cost)
            history.append((best_cost, cost.mean()))
        return best, history

    def _cem(self, z0, goal):
        return self._refine(z0, goal, self._cem_refit)

    def _mppi(self, z0, goal):
        return self._refine(z0, goal, self._mppi_refit)

    def _refine(self, z0, goal, refit):
        """CEM and MPPI: sample around (mean, std), cost the samples, refit; `iterations` times."""
        mean = self._initial_mean()
        std = torch.full_like(mean, self.cfg.init_std)
        history = []
        for _ in range(self.cfg.iterations):
            units = self._sample(mean, std)
            cost = self._evaluate(z0, goal, units)[0]
            mean, std = refit(units, cost, std)
            history.append((cost.min(), cost.mean()))
        return mean, history

    def _cem_refit(self, units, cost, std):
        """The elites' mean and std (the std floored at min_std)."""
        elites = units[torch.topk(cost, self.cfg.elites, largest=False, sorted=False).indices]
        return elites.mean(0), elites.std(0).clamp_min(self.cfg.min_std)

    def _mppi_refit(self, units, cost, std):
        """The exponentially cost-weighted mean (and, with mppi_adapt_std, the weighted spread)."""
        scale = self.cfg.temperature * cost.std().clamp_min(1e-8)
        weights = torch.softmax(-(cost - cost.min()) / scale, dim=0)
        mean = torch.einsum("n,nha->ha", weights, units)
        if self.cfg.mppi_adapt_std:
            std = torch.einsum("n,nha->ha", weights, (units - mean).pow(2)).sqrt().clamp_min(self.cfg.min_std)
        return mean, std

    def _initial_mean(self) -> torch.Tensor:
        zeros = torch.zeros(self.cfg.horizon, self.action_dim, device=self.device)
        if not self.cfg.warm_start or self._previous is None:
            return zeros
        # Receding horizon: the previous plan, advanced by the steps taken since it was made.
        k = min(self._executed, self.cfg.horizon)
        return torch.cat([self._previous[k:], zeros[:k]])

    def _sample(self, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        noise = colored_noise(self.cfg.samples, *mean.shape, self.cfg.noise_beta, self.generator, self.device)
        units = mean + std * noise
        units[0] = mean  # the current mean competes too: a good warm start is never lost
        return units.clamp(-1.0, 1.0)

    def _to_env(self, units: torch.Tensor) -> torch.Tensor:
        return self._mid + self._half * units

    def _evaluate(self, z0, goal, units, per_step: bool = False):
        """Costs [N] of sequences [N, H, A] (and [N, H] distances along them if per_step)."""
        actions = self._to_env(units)
        imagined = self.imagine(z0, actions, per_step or self.cfg.cost_at == "every")
        distance = goal_distance(imagined["z"], goal, self.cfg.cost)  # [N, H'] (H' = 1 or H)
        cost = distance.mean(1) if self.cfg.cost_at == "every" else distance[:, -1]
        if self.cfg.reward_weight:
            cost = cost - self.cfg.reward_weight * imagined["reward"].mean(1)
        if self.cfg.uncertainty_penalty:
            cost = cost + self.cfg.uncertainty_penalty * imagined["uncertainty"].mean(1)
        return cost, distance


def colored_noise(
    samples: int, horizon: int, dim: int, beta: float, generator: torch.Generator, device: torch.device
) -> torch.Tensor:
    """Gaussian noise [samples, horizon, dim] with power spectrum 1/f^beta along time, unit
    variance per step (beta = 0: white). Correlated noise makes sustained pushes (full torque
    for several steps) likely samples; white noise averages them away (iCEM, Pinneri et al. 2020)."""
    white = torch.randn(samples, dim, horizon, generator=generator, device=device)
    if beta == 0:
        return white.transpose(1, 2)
    freqs = torch.fft.rfftfreq(horizon, device=device)
    freqs[0] = freqs[1] if horizon > 1 else 1.0  # the constant component gets the lowest frequency's power
    gain = freqs.pow(-beta / 2)
    noise = torch.fft.irfft(torch.fft.rfft(white, dim=-1) * gain, n=horizon, dim=-1)
    # A circular filter with impulse response h turns unit white noise into variance sum(h^2).
    impulse = torch.fft.irfft(gain.to(torch.complex64), n=horizon)
    return (noise / impulse.pow(2).sum().sqrt()).transpose(1, 2)


def cost_weight(model: torch.nn.Module, units: str, goal_dims: np.ndarray | None = None) -> torch.Tensor | None:
    """Per-dimension factor turning the model's standardized latent into cost units (None: as is).

    "latent" undoes the per-dimension standardization up to one global scale (the RMS of the
    data stds), so the distance sees the encoder's own geometry. Standardizing every dimension
    instead lets rarely-varying ones dominate: on reacher's state, to_target (std 3 cm in the
    expert data) outweighs the joint angles and CEM settles in the other elbow configuration
    next to the target (2/6 solved vs 6/6 in latent units).
    Dimensions outside `goal_dims` get weight 0."""
    std = getattr(model, "z_std", None)
    mask = None if goal_dims is None else torch.as_tensor(np.asarray(goal_dims, bool))
    if mask is not None:
        if std is not None and mask.shape != std.shape:
            raise ConfigError(f"goal_dims has {mask.shape[0]} entries, but the world model's latent has {std.shape[0]}")
        if not mask.any():
            raise ConfigError("goal_dims selects no latent dimension to compare with the goal")
    if units == "standardized" or std is None:
        return None if mask is None else mask.to(std.device if std is not None else "cpu", torch.float32)
    mask = torch.ones_like(std, dtype=torch.bool) if mask is None else mask.to(std.device)
    return torch.where(mask, std / std[mask].pow(2).mean().sqrt(), torch.zeros_like(std))


def goal_distance(zn: torch.Tensor, goal: torch.Tensor, cost: str) -> torch.Tensor:
    """Distance of latents [N, H, D] to a goal [1, D] (both in cost units) -> [N, H]."""
    diff = zn - goal[:, None]
    if cost == "l1":
        return diff.abs().mean(-1)
    if cost == "l2":
        return diff.pow(2).mean(-1).sqrt()
    if cost == "cosine":
        return 1.0 - torch.nn.functional.cosine_similarity(zn, goal[:, None].expand_as(zn), dim=-1)
    raise ConfigError(f"cost {cost!r} is unknown; choose one of {list(COSTS)}")


def imagination(
    model: torch.nn.Module,
    cfg: PlannerConfig,
    precision: str = "fp32",
    fast: bool = True,
    goal_dims: np.ndarray | None = None,
):
    """A function (z0 [1 or N, D], actions [N, H, A], per_step) -> dict(z=latents in cost units
    [N, H or 1, D] float32, reward [N, H], uncertainty [N, H]) built on the model's primitives.

    A single MLP world model gets `MLPImagination` (the same numbers as `rollout`, less work);
    any other model (ensemble, Transformer) uses `rollout`. `precision="bf16"` runs the matrix
    products in bfloat16 (the running state and the costs stay float32)."""
    weight = cost_weight(model, cfg.cost_units, goal_dims)
    mcfg = getattr(model, "cfg", None)
    if fast and getattr(mcfg, "kind", None) == "mlp" and mcfg.ensemble == 1 and hasattr(model, "fold"):
        return MLPImagination(model, weight, need_reward=cfg.reward_weight != 0, precision=precision)
    device_type = _model_device(model).type

    def plain(z0, actions, per_step):
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            out = model.rollout(z0.expand(actions.shape[0], -1), actions)
        z = model.normalize((out["z"] if per_step else out["z"][:, -1:]).float())
        return {
            "z": z if weight is None else z * weight,
            "reward": out["reward"].float(),
            "uncertainty": out["uncertainty"].float(),
        }

    return plain


class MLPImagination:
    """Roll a single MLP world model out for planning, skipping what the cost does not read
    (the discount head; the reward head unless rewards are weighted).

    Wide latents (D > width / 2) are rolled out folded (`WorldModel.fold`): with
    x_t = in_z(zn_t) + in_a(a_t) the first layer's pre-activation and the residual
    zn_{t+1} = zn_t + s * out(g_t), x_{t+1} = x_t + (in_a(a_{t+1}) - in_a(a_t) + c) + M g_t:
    per step two width x width products instead of two width x D ones, and the latent is
    rebuilt (in cost units: the output layer absorbs s and the unit weight) only where the
    cost reads it. Narrow latents step zn directly."""

    def __init__(self, model: torch.nn.Module, weight: torch.Tensor | None, need_reward: bool, precision: str = "fp32"):
        dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        with torch.no_grad():  # constants of the planner, never trained
            fold = model.fold()
            member, core = fold.member, fold.member.core
            self.model, self.fold, self.dtype = model, fold, dtype
            self.weight = torch.ones_like(fold.scale) if weight is None else weight
            self.folded = 2 * model.cfg.latent_dim > model.cfg.width
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

    def __call__(self, z0: torch.Tensor, actions: torch.Tensor, per_step: bool) -> dict[str, torch.Tensor]:
        n, horizon = actions.shape[:2]
        zn0 = self.model.normalize(z0)
        an = self.model.normalize_action(actions).transpose(0, 1)  # [H, N, A], time-major
        z, rewards = self._folded(zn0, an, per_step) if self.folded else self._direct(zn0, self.in_a(an), per_step)
        zeros = z.new_zeros(n, horizon)
        return {"z": z, "reward": torch.stack(rewards, 1) if rewards else zeros, "uncertainty": zeros}

    def _direct(self, zn0, a_in, per_step):
        fold, zn, zs, rewards = self.fold, zn0, [], []
        for t in range(a_in.shape[0]):
            g = self._features(self.in_z(zn) + a_in[t])
            self._reward(g, rewards)
            zn = zn + fold.scale * ((g @ self.w_out_t).float() + fold.b_out)
            if per_step:
                zs.append(zn)
        return (torch.stack(zs, 1) if per_step else zn[:, None]) * self.weight, rewards

    def _folded(self, zn0, an, per_step):
        horizon = an.shape[0]
        x = self.in_a(an[0]) + self.fold.encode(zn0)
        # The action and bias parts of x_{t+1} - x_t in one product (in_a is linear, bias-free).
        x_step = torch.nn.functional.linear(an[1:] - an[:-1], self.in_a.weight, self.fold.c)
        features, rewards, g_sum = [], [], torch.zeros_like(x)
        for t in range(horizon):
            g = self._features(x)
            self._reward(g, rewards)
            if per_step:
                features.append(g)
            else:
                g_sum += g  # a running sum: stacking [N, H, W] costs a copy
            if t + 1 < horizon:
                x = x + x_step[t]
                x += g @ self.m_t
        start = zn0 * self.weight  # [1 or N, D]
        if per_step:
            steps = torch.arange(1, horizon + 1, device=x.device, dtype=torch.float32)[:, None]
            g_sums = torch.stack(features, 1).float().cumsum(1).to(self.dtype)  # [N, H, W]
            return start[:, None] + steps * self.out_b + (g_sums @ self.out_t).float(), rewards
        return (start + horizon * self.out_b + (g_sum.to(self.dtype) @ self.out_t).float())[:, None], rewards


def resolve_precision(name: str, device: torch.device) -> str:
    """auto: bfloat16 products where the hardware runs them natively (recent GPUs, AVX512-BF16/AMX CPUs)."""
    if name not in PRECISIONS:
        raise ConfigError(f"--precision {name!r} is unknown; choose one of {list(PRECISIONS)}")
    if name != "auto":
        return name
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if device.type == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"


def _model_device(model: torch.nn.Module) -> torch.device:
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return torch.device("cpu")


@dataclass
class EpisodeTrace:
    """What a planner saw and imagined in one episode (for plots and metrics)."""

    goal_steps: int
    """Expert steps to the goal from this episode's start."""
    real_distance: list[float] = field(default_factory=list)
    """Goal distance of the real latent at each step (before acting)."""
    imagined_distance: list[float] = field(default_factory=list)
    """Goal distance the plan in force imagined after each executed action (so entry t
    predicts real_distance[t + 1])."""
    best_cost: list[list[float]] = field(default_factory=list)
    """Per plan: the best cost per iteration."""
    mean_cost: list[list[float]] = field(default_factory=list)
    """Per plan: the mean sample cost per iteration."""
    plan_seconds: list[float] = field(default_factory=list)
    latents: list[np.ndarray] = field(default_factory=list)
    """The real latents (kept for the first `keep_latents` episodes only)."""
    actions: list[np.ndarray] = field(default_factory=list)


class PlannerController:
    """The Controller protocol around a planner: a goal from the expert at each reset, a new
    plan every `replan_every` steps, the plan's next action in between."""

    def __init__(
        self,
        planner: Planner,
        encoder: Encoder,
        goal_settle_steps: int = 0,
        goal_at_rest: bool = True,
        keep_latents: int = 1,
    ):
        self.planner, self.encoder, self.keep_latents = planner, encoder, keep_latents
        self.goal_options = dict(settle_steps=goal_settle_steps, at_rest=goal_at_rest)
        self.goal: Goal | None = None
        self.goals: list[Goal] = []
        self.traces: list[EpisodeTrace] = []

    def reset(self, env: ControlEnv) -> None:
        self.planner.reset()
        self.goal = goal_from_expert(env, self.encoder, **self.goal_options)
        self.goals.append(self.goal)
        self.traces.append(EpisodeTrace(goal_steps=self.goal.steps))
        self._plan: Plan | None = None
        self._step = 0

    def act(self, z: np.ndarray) -> np.ndarray:
        if self.goal is None:
            raise RuntimeError("PlannerController.act called before reset(env)")
        trace, k = self.traces[-1], self._step % self.planner.cfg.replan_every
        if k == 0:
            self._plan = self.planner.plan(z, self.goal.z, executed=self.planner.cfg.replan_every)
            trace.best_cost.append(self._plan.best_cost)
            trace.mean_cost.append(self._plan.mean_cost)
            trace.plan_seconds.append(self._plan.seconds)
        trace.real_distance.append(float(self.planner.distance(z, self.goal.z)[0]))
        trace.imagined_distance.append(float(self._plan.imagined_distance[k]))
        action = self._plan.actions[k].astype(np.float32)
        if len(self.traces) <= self.keep_latents:
            trace.latents.append(np.asarray(z, np.float32))
            trace.actions.append(action)
        self._step += 1
        return action
