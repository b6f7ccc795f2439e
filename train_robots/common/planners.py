"""Planning by imagining: pick actions whose imagined future ends near the goal latent.

Three sampling planners over one world model, batched in torch (the same code on CPU and
CUDA). One call plans N independent problems (one per evaluation episode run in lockstep) in
one tensor program; each problem keeps its own samples, elites, warm start and random stream
(a `torch.Generator` per episode, seeded by the episode), so a plan does not depend on which
other episodes share its batch:

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
`uncertainty_penalty` times the mean ensemble disagreement and `action_penalty` times the mean
squared action. Distances are measured in the
encoder's own geometry (centred, one global scale: `cost_units="latent"`) or with every
dimension standardized by its data std (`"standardized"`, the world model's `normalize`).
Planners touch the world model only through its primitives (`rollout`, `normalize`);
`imagination.imagination` picks an exact, faster formulation where the model allows one
(`MLPImagination`).

Actions are planned in [-1, 1] units and mapped to the environment's bounds, so a sample
can never leave them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from train_robots.common.cuda_graphs import CudaGraphs
from train_robots.common.imagination import (
    PRECISIONS,
    MLPImagination,
    imagination,
    imagined_bytes_per_problem,
    model_device,
    resolve_precision,
)
from train_robots.common.policy_prior import policy_prior
from train_robots.common.runtime import ConfigError
from train_robots.common.sac import SACAgent

PLANNERS = ("random", "cem", "mppi")
COSTS = ("l1", "l2", "cosine")
COST_AT = ("final", "every")
COST_UNITS = ("latent", "standardized")
OBJECTIVES = ("goal", "reward")


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
    cost_at: str = "every"
    """every: the mean distance over the imagined steps, so a plan must reach the goal and stay
    there; final: the last imagined latent's only (reacher, 20 episodes: the same return, but the
    arm swung through the goal pose, median end error 0.27 rad against 0.03 with every)."""
    cost_units: str = "latent"
    """latent: the encoder's own geometry (centred, one global scale); standardized: every
    dimension divided by its own data std (the world model's `normalize`)."""
    objective: str = "goal"
    """goal: end near the goal image's latent (minus reward_weight x the reward term); reward: no
    goal image, maximise the reward term alone (no single image defines "walking")."""
    reward_weight: float = 0.1
    """Subtract this times the reward term: the mean predicted reward per step, or with --value
    the value-bootstrapped return (0: goal distance only)."""
    value: bool = False
    """Bootstrap the reward term with dream-SAC's critic at the horizon, as TD-MPC2 does:
    (1 - gamma) (sum_t gamma^t r_t + gamma^H V(z_H)), a per-step reward like the mean it replaces,
    that sees past the horizon."""
    prior_samples: int = 0
    """Of each iteration's samples, this many roll dream-SAC's actor through the model (a policy
    prior, as TD-MPC2; the first is its mean action)."""
    handover: float = 0.0
    """Toward a goal image: once a problem's goal distance falls below this fraction of its
    distance at the episode's first plan, its actor samples give way to Gaussian ones. The actor
    leads the arm out of a trap far from the goal; the goal image alone sets the pose near it,
    which the actor (trained on the task's reward, not this pose) does not hold. 0: the actor's
    samples always compete."""
    hold_horizon: int = 0
    """Past --handover, the goal distance is read over the first this many imagined steps only
    (0: all of --horizon). A long horizon sees past a detour; a short one holds a pose (reacher,
    seed 0: 40 steps held 14% of goal poses at step 120, 20 steps 74%)."""
    hold_samples: int = 0
    """Past --handover, each iteration imagines only this many of a problem's samples; the rest
    repeat them, so every refit weighs this many distinct sequences (0: all of --samples). Holding
    a pose reached is a small search, and nearly every plan of an episode is made past the handover."""
    gamma: float = 0.99
    """Discount of the value-bootstrapped reward term."""
    uncertainty_penalty: float = 0.0
    """Add this times the mean ensemble disagreement per step (0: off)."""
    action_penalty: float = 0.0
    """Add this times the mean squared action per step, in [-1, 1] units (a control cost, 0: off):
    where imagined goal costs tie, the quiet sequence wins. From pixels it did not make CEM hold a
    pose reached (random grid2, 50 episodes: 0.05 cost 16 points of success for +17.5 return;
    ROADMAP.md, "An action penalty")."""
    replan_every: int = 1
    """Agent steps between plans (receding horizon; the plan's next actions run meanwhile)."""
    warm_start: bool = True
    """CEM/MPPI: start from the previous plan shifted by one step."""
    precision: str = "auto"
    """Matrix products in fp32 or bf16; auto: bf16 where the hardware runs it natively."""
    cuda_graphs: bool = True
    """On CUDA, replay each iteration's imagination and costs as a CUDA graph (a plan for one
    episode is otherwise bound by kernel launches); single-MLP world models only."""

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
            (self.action_penalty >= 0, f"--action-penalty must be >= 0, got {self.action_penalty}"),
            (
                self.objective in OBJECTIVES,
                f"--objective {self.objective!r} is unknown; choose one of {list(OBJECTIVES)}",
            ),
            (
                self.objective == "goal" or self.reward_weight > 0,
                f"--objective reward maximises the reward term: --reward-weight must be positive, got {self.reward_weight}",
            ),
            (
                0 <= self.prior_samples <= self.samples - 2,
                f"--prior-samples must lie in [0, --samples - 2], got {self.prior_samples}",
            ),
            (0 <= self.handover <= 1, f"--handover must lie in [0, 1], got {self.handover}"),
            (
                not self.handover or (self.objective == "goal" and self.prior_samples > 0),
                "--handover hands a goal-image plan over from the actor's samples: it needs "
                "--objective goal and --prior-samples > 0",
            ),
            (
                0 <= self.hold_horizon <= self.horizon,
                f"--hold-horizon must lie in [0, --horizon], got {self.hold_horizon}",
            ),
            (not self.hold_horizon or self.handover, "--hold-horizon applies past --handover: set --handover too"),
            (
                self.hold_samples == 0 or 2 <= self.hold_samples <= self.samples,
                f"--hold-samples must be 0 or lie in [2, --samples], got {self.hold_samples}",
            ),
            (not self.hold_samples or self.handover, "--hold-samples applies past --handover: set --handover too"),
            (
                not self.hold_horizon or self.hold_horizon >= self.replan_every,
                f"--hold-horizon must be at least --replan-every ({self.replan_every}), got {self.hold_horizon}",
            ),
            (0 < self.gamma < 1, f"--gamma must lie in (0, 1), got {self.gamma}"),
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
    """The plans of N problems (arrays lead with N; `Planner.plan` of a single latent drops it)."""

    actions: np.ndarray
    """[N, H, A] in the environment's units."""
    cost: np.ndarray
    """[N] cost of the executed sequence (CEM/MPPI: of their final mean)."""
    best_cost: np.ndarray
    """[N, iterations]: the cheapest sampled sequence of each iteration."""
    mean_cost: np.ndarray
    """[N, iterations]: the mean cost of each iteration's samples."""
    imagined_distance: np.ndarray
    """[N, H] goal distance of each imagined latent along the executed sequence. Past --handover a
    problem is imagined over --hold-horizon steps only: NaN beyond (H is --hold-horizon when all are)."""
    holding: np.ndarray
    """[N] whether the problem planned past --handover (without the actor's samples)."""
    seconds: float = 0.0
    """Wall time of the whole batch."""

    def single(self) -> Plan:
        """The plan of a batch of one, without the leading N."""
        return Plan(
            self.actions[0],
            self.cost[0],
            self.best_cost[0],
            self.mean_cost[0],
            self.imagined_distance[0],
            self.holding[0],
            self.seconds,
        )


class Planner:
    """A sampling planner over a world model; `plan(z, z_goal)` -> `Plan` for N problems at once."""

    def __init__(
        self,
        model: torch.nn.Module,
        cfg: PlannerConfig,
        action_low: np.ndarray,
        action_high: np.ndarray,
        seed: int = 0,
        device: torch.device | str | None = None,
        goal_dims: np.ndarray | None = None,
        agent: SACAgent | None = None,
    ):
        """`goal_dims`: a boolean mask of the latent dimensions the goal distance compares
        (None: all; the state encoder leaves out velocities, which no goal image shows).
        `agent`: a trained dream-SAC agent of the same latents, for --value and --prior-samples."""
        cfg.validate()
        if agent is None and (cfg.value or cfg.prior_samples):
            raise ConfigError("--value and --prior-samples need a dream-SAC agent (sac.pt): train_dream_sac.py first")
        self.model, self.cfg, self.seed, self.agent = model, cfg, seed, agent
        self.device = torch.device(device) if device is not None else model_device(model)
        low = torch.as_tensor(np.asarray(action_low, np.float32), device=self.device)
        high = torch.as_tensor(np.asarray(action_high, np.float32), device=self.device)
        self._mid, self._half = (high + low) / 2, (high - low) / 2
        self.action_dim = int(low.shape[0])
        self.precision = resolve_precision(cfg.precision, self.device)
        self._unit_weight = cost_weight(model, cfg.cost_units, goal_dims)
        self.imagine = imagination(model, self._unit_weight, cfg.reward_weight != 0, self.precision)
        self._prior_rollout = policy_prior(model, agent, self._to_env) if cfg.prior_samples else None
        self.generators: list[torch.Generator] = []
        self._previous: torch.Tensor | None = None
        self._hold_rows: torch.Tensor | None = None  # this plan's problems past --handover, if any
        self._reach_rows: torch.Tensor | None = None  # and the others
        self._start_distance: torch.Tensor | None = None  # [N] goal distances at the episodes' first plan
        self._executed = 1
        self._graphed = CudaGraphs(self._evaluate) if cfg.cuda_graphs and self.device.type == "cuda" else None

    def _cost(self, z0: torch.Tensor, goal: torch.Tensor | None, units: torch.Tensor, per_step: bool = False):
        """Costs [N, S] of sequences [N, S, H, A] (and [N, S, H'] goal distances along them). The
        problems past --handover are imagined over the first --hold-horizon steps only (their
        distances NaN beyond: no cost of theirs reads further, so why imagine it), and for their
        first --hold-samples samples only (the others repeat those: `_repeat_held`)."""
        if not len(self._hold_rows) or not (self.cfg.hold_horizon or self.cfg.hold_samples):
            return self._run(z0, goal, units, per_step)
        held = units[:, : self._held_samples(units.shape[1]), : self.cfg.hold_horizon or None]
        if not len(self._reach_rows):
            return self._spread_held(*self._run(z0, goal, held, per_step), units.shape[1])
        # Both kinds in one batch: two eager calls (a CUDA graph per split would be captured per size).
        rows = (self._hold_rows, self._reach_rows)
        parts = [self._evaluate(z0[r], goal[r], u[r], per_step=per_step) for r, u in zip(rows, (held, units))]
        parts[0] = self._spread_held(*parts[0], units.shape[1])
        cost = torch.empty(units.shape[:2], device=units.device)
        distance = torch.full((*units.shape[:2], parts[1][1].shape[-1]), float("nan"), device=units.device)
        for r, (part_cost, part_distance) in zip(rows, parts):
            cost[r] = part_cost
            distance[r, :, : part_distance.shape[-1]] = part_distance
        return cost, distance

    def _held_samples(self, samples: int) -> int:
        """Distinct samples a problem past --handover imagines, of `samples`."""
        return min(self.cfg.hold_samples or samples, samples)

    def _repeat_held(self, units: torch.Tensor) -> torch.Tensor:
        """Each held problem's samples beyond its first --hold-samples made copies of those, in
        place: MPPI and random shooting then weigh them as a search of that many samples would,
        and CEM's elites keep their share of the distinct samples."""
        k = self._held_samples(units.shape[1])
        if k < units.shape[1] and len(self._hold_rows):
            repeat = torch.arange(units.shape[1], device=units.device) % k
            units[self._hold_rows] = units[self._hold_rows][:, repeat]
        return units

    def _spread_held(self, cost: torch.Tensor, distance: torch.Tensor, samples: int):
        """Costs [N', K] (and distances [N', K, H']) of the held problems' distinct samples, for all `samples`."""
        repeat = torch.arange(samples, device=cost.device) % cost.shape[1]
        return cost[:, repeat], distance[:, repeat]

    def _run(self, z0: torch.Tensor, goal: torch.Tensor | None, units: torch.Tensor, per_step: bool):
        """`_evaluate`, replayed as a CUDA graph where that is on and the imagination is the MLP's
        (its outputs are then overwritten by the next call: every caller reads them at once)."""
        if self._graphed is not None and isinstance(self.imagine, MLPImagination):
            return self._graphed(z0, goal, units, per_step=per_step)
        return self._evaluate(z0, goal, units, per_step=per_step)

    def reset(self, episode_seeds: Sequence[int] | None = None) -> None:
        """Start new episodes: forget the previous plans, and give each episode its own random
        stream, seeded by (planner seed, episode seed), so its plans are the same whichever
        episodes share its batch. Without seeds, problem i of the next plan gets stream i."""
        self._previous = None
        seeds = [] if episode_seeds is None else episode_seeds
        self.generators = [self._generator(s) for s in seeds]

    def _generator(self, stream: int) -> torch.Generator:
        state = np.random.SeedSequence([self.seed, int(stream)]).generate_state(2, np.uint64)[0]
        return torch.Generator(device=self.device).manual_seed(int(state >> np.uint64(1)))

    def bytes_per_problem(self) -> int:
        """Roughly the memory one problem of a plan holds at once (sizes the episodes run in parallel)."""
        cfg = self.cfg
        return imagined_bytes_per_problem(self.imagine, self.model, cfg.samples, cfg.horizon)

    @torch.inference_mode()
    def plan(self, z: np.ndarray | torch.Tensor, z_goal: np.ndarray | torch.Tensor | None, executed: int = 1) -> Plan:
        """Plan from latents `z` [N, D] toward `z_goal` [N, D] (or one problem: [D] and [D]; None
        with --objective reward); `executed`: actions of the previous plan run since it was made."""
        start = time.perf_counter()
        single = np.ndim(z) == 1
        z0 = torch.as_tensor(z, dtype=torch.float32, device=self.device).reshape(-1, np.shape(z)[-1])
        goal = self._goal(z_goal, z0)
        if not self.generators:
            self.generators = [self._generator(i) for i in range(z0.shape[0])]
        if len(self.generators) != z0.shape[0]:
            raise ValueError(f"planning {z0.shape[0]} problems, but reset() started {len(self.generators)} episodes")
        self._executed = executed
        holding = self._handed_over(z0, goal).cpu()  # one device sync per plan
        self._hold_rows, self._reach_rows = (torch.nonzero(m).squeeze(1).to(self.device) for m in (holding, ~holding))
        self._prior = self._policy_prior(z0) if self.cfg.prior_samples and len(self._reach_rows) else None
        search = {"random": self._random, "cem": self._cem, "mppi": self._mppi}[self.cfg.planner]
        units, history = search(z0, goal)
        self._previous = units
        cost, distance = self._cost(z0, goal, units[:, None], per_step=True)
        best, mean = (torch.stack(column, 1).cpu().numpy() for column in zip(*history))  # [N, iterations]
        plan = Plan(
            actions=self._to_env(units).cpu().numpy(),
            cost=cost[:, 0].cpu().numpy(),
            best_cost=best,
            mean_cost=mean,
            imagined_distance=distance[:, 0].cpu().numpy(),
            holding=holding.numpy(),
            seconds=time.perf_counter() - start,
        )
        return plan.single() if single else plan

    def _goal(self, z_goal, z0: torch.Tensor) -> torch.Tensor | None:
        """The goals in cost units [N, D'] (None with --objective reward, which has none)."""
        if (z_goal is None) != (self.cfg.objective == "reward"):
            raise ValueError(f"objective {self.cfg.objective!r} plans {'without' if z_goal is None else 'with'} a goal")
        if z_goal is None:
            return None
        return self.embed(torch.as_tensor(z_goal, dtype=torch.float32, device=self.device).reshape(z0.shape[0], -1))

    def _handed_over(self, z0: torch.Tensor, goal: torch.Tensor | None) -> torch.Tensor:
        """[N] bool: problems within --handover of their first plan's goal distance (the first
        plan after reset() records that distance)."""
        if not self.cfg.handover or goal is None:
            return torch.zeros(z0.shape[0], dtype=torch.bool, device=self.device)
        now = goal_distance(self.embed(z0), goal, self.cfg.cost)
        if self._previous is None:
            self._start_distance = now
        return now < self.cfg.handover * self._start_distance

    @torch.no_grad()
    def _policy_prior(self, z0: torch.Tensor) -> torch.Tensor:
        """[N', P, H, A] unit-action sequences of the actor rolled through the model, for the N'
        problems not past --handover: the first of each problem its mean action, the others
        sampled from its Gaussian with the problem's stream."""
        generators = [self.generators[i] for i in self._reach_rows.tolist()]
        n, p, dim = len(generators), self.cfg.prior_samples, self.action_dim
        noise = []  # each stream draws step by step, as it always has: the same seed, the same samples
        for _ in range(self.cfg.horizon):
            step = torch.stack([torch.randn(p, dim, generator=g, device=self.device) for g in generators])
            step[:, 0] = 0.0
            noise.append(step.flatten(0, 1))
        return self._prior_rollout(z0[self._reach_rows], torch.stack(noise)).unflatten(0, (n, p))

    def _with_prior(self, units: torch.Tensor) -> torch.Tensor:
        """The last prior_samples of each problem's fresh samples replaced, in place, by the policy
        prior's (but for the problems past --handover)."""
        if self._prior is not None:
            units[self._reach_rows, -self._prior.shape[1] :] = self._prior
        return units

    def embed(self, z: torch.Tensor) -> torch.Tensor:
        """Raw latents [..., D] -> the space goal distances are measured in."""
        zn = self.model.normalize(z)
        return zn if self._unit_weight is None else zn * self._unit_weight

    @torch.inference_mode()
    def distance(self, z: np.ndarray, z_goal: np.ndarray) -> np.ndarray:
        """Goal distance (this planner's cost and units) of raw latents [..., D] to goals
        broadcastable to them -> [...]."""
        zs = self.embed(torch.as_tensor(np.asarray(z), dtype=torch.float32, device=self.device))
        goal = self.embed(torch.as_tensor(np.asarray(z_goal), dtype=torch.float32, device=self.device))
        return goal_distance(zs, goal.expand_as(zs), self.cfg.cost).cpu().numpy()

    # -- searches: each returns the chosen sequences [N, H, A] in [-1, 1] units and per-iteration
    # (best, mean) costs [N]. History entries stay tensors until the plan is done: one device
    # sync per plan, not per iteration.

    def _random(self, z0, goal):
        shape = (self.cfg.samples, self.cfg.horizon, self.action_dim)
        rows = torch.arange(z0.shape[0], device=self.device)
        best, best_cost, history = None, None, []
        for _ in range(self.cfg.iterations):
            units = torch.stack([torch.rand(shape, generator=g, device=self.device) for g in self.generators]) * 2 - 1
            units = self._repeat_held(self._with_prior(units))
            cost = self._cost(z0, goal, units)[0]  # [N, S]
            i = torch.argmin(cost, 1)
            if best is None:
                best, best_cost = units[rows, i], cost[rows, i]
            else:
                better = cost[rows, i] < best_cost
                best = torch.where(better[:, None, None], units[rows, i], best)
                best_cost = torch.minimum(cost[rows, i], best_cost)
            history.append((best_cost, cost.mean(1)))
        return best, history

    def _cem(self, z0, goal):
        return self._refine(z0, goal, self._cem_refit)

    def _mppi(self, z0, goal):
        return self._refine(z0, goal, self._mppi_refit)

    def _refine(self, z0, goal, refit):
        """CEM and MPPI: sample around (mean, std), cost the samples, refit; `iterations` times."""
        mean = self._initial_mean(z0.shape[0])
        std = torch.full_like(mean, self.cfg.init_std)
        history = []
        for _ in range(self.cfg.iterations):
            units = self._sample(mean, std)
            cost = self._cost(z0, goal, units)[0]
            mean, std = refit(units, cost, std)
            history.append((cost.min(1).values, cost.mean(1)))
        return mean, history

    def _cem_refit(self, units, cost, std):
        """The elites' mean and std (the std floored at min_std), per problem. Sorted, so the
        elites are summed in cost order whatever the batch: a plan does not depend on N."""
        index = torch.topk(cost, self.cfg.elites, dim=1, largest=False, sorted=True).indices  # [N, E]
        elites = torch.gather(units, 1, index[:, :, None, None].expand(-1, -1, *units.shape[2:]))
        return elites.mean(1), elites.std(1).clamp_min(self.cfg.min_std)

    def _mppi_refit(self, units, cost, std):
        """The exponentially cost-weighted mean (and, with mppi_adapt_std, the weighted spread)."""
        scale = self.cfg.temperature * cost.std(1, keepdim=True).clamp_min(1e-8)
        weights = torch.softmax(-(cost - cost.min(1, keepdim=True).values) / scale, dim=1)
        mean = torch.einsum("ns,nsha->nha", weights, units)
        if self.cfg.mppi_adapt_std:
            spread = torch.einsum("ns,nsha->nha", weights, (units - mean[:, None]).pow(2))
            std = spread.sqrt().clamp_min(self.cfg.min_std)
        return mean, std

    def _initial_mean(self, n: int) -> torch.Tensor:
        zeros = torch.zeros(n, self.cfg.horizon, self.action_dim, device=self.device)
        if not self.cfg.warm_start or self._previous is None:
            return zeros
        # Receding horizon: the previous plans, advanced by the steps taken since they were made.
        k = min(self._executed, self.cfg.horizon)
        return torch.cat([self._previous[:, k:], zeros[:, :k]], 1)

    def _sample(self, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        """[N, S, H, A] samples around each problem's (mean, std), from its own random stream."""
        horizon, dim = mean.shape[1:]
        noise = torch.stack(
            [
                colored_noise(self.cfg.samples, horizon, dim, self.cfg.noise_beta, g, self.device)
                for g in self.generators
            ]
        )
        units = mean[:, None] + std[:, None] * noise
        units[:, 0] = mean  # the current mean competes too: a good warm start is never lost
        return self._repeat_held(self._with_prior(units.clamp(-1.0, 1.0)))

    def _to_env(self, units: torch.Tensor) -> torch.Tensor:
        return self._mid + self._half * units

    def _evaluate(self, z0, goal, units, per_step: bool = False):
        """Costs [N, S] of sequences [N, S, H, A] (and [N, S, H'] goal distances along them)."""
        cfg = self.cfg
        imagined = self.imagine(z0, self._to_env(units), per_step or cfg.cost_at == "every", final_latent=cfg.value)
        z = imagined["z"]  # [N, S, H', D]
        if goal is None:
            distance = z.new_zeros(z.shape[:-1])
            cost = distance[..., -1]
        else:
            distance = goal_distance(z, goal[:, None, None].expand_as(z), cfg.cost)
            cost = distance.mean(-1) if cfg.cost_at == "every" else distance[..., -1]
        if cfg.reward_weight:
            cost = cost - cfg.reward_weight * self._reward_term(imagined)
        if cfg.uncertainty_penalty:
            cost = cost + cfg.uncertainty_penalty * imagined["uncertainty"].mean(-1)
        if cfg.action_penalty:
            cost = cost + cfg.action_penalty * units.square().mean((-2, -1))
        return cost, distance

    def _reward_term(self, imagined: dict[str, torch.Tensor]) -> torch.Tensor:
        """[N, S]: the mean imagined reward per step, or with --value the discounted return
        bootstrapped by the critic at the horizon, times (1 - gamma) (the same per-step scale)."""
        reward = imagined["reward"]
        if not self.cfg.value:
            return reward.mean(-1)
        gamma, horizon = self.cfg.gamma, reward.shape[-1]
        discounts = gamma ** torch.arange(horizon, device=reward.device, dtype=reward.dtype)
        final = imagined["z_final"]
        value = self.agent.value(final.flatten(0, 1)).unflatten(0, final.shape[:2])
        return (1 - gamma) * ((reward * discounts).sum(-1) + gamma**horizon * value)


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
    """Distance of latents [..., D] to goals of the same shape (both in cost units) -> [...]."""
    diff = zn - goal
    if cost == "l1":
        return diff.abs().mean(-1)
    if cost == "l2":
        return diff.pow(2).mean(-1).sqrt()
    if cost == "cosine":
        return 1.0 - torch.nn.functional.cosine_similarity(zn, goal, dim=-1)
    raise ConfigError(f"cost {cost!r} is unknown; choose one of {list(COSTS)}")
