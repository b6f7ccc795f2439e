"""Speed: rates and latencies of every part, measured on this machine in one run.

    python train_robots/bench.py                     # everything, writes bench.json
    python train_robots/bench.py --sections envs encoders
    modal run train_robots/bench.py                  # the same on a Modal GPU

Each section is a function `bench_<topic>(device) -> dict` of flat figures, listed in
SECTIONS. Targets are stated beside the figures (as ratios or rates), never asserted in
tests: a timing depends on the machine.
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from any directory

import numpy as np  # noqa: E402
import torch  # noqa: E402

from train_robots.common import cli, cloud  # noqa: E402
from train_robots.common.encoders import VJEPA2Encoder, build_encoder  # noqa: E402
from train_robots.common.envs import ControlEnv, task_spec  # noqa: E402
from train_robots.common.presets import Preset, get_preset, sizes_for  # noqa: E402
from train_robots.common.run_config import CloudConfig  # noqa: E402
from train_robots.common.runtime import REPO_ROOT, ConfigError, resolve_device, write_json  # noqa: E402
from train_robots.common.task_encoder import clips_to_pixels  # noqa: E402

# bf16 dense tensor-core peak (TFLOP/s) by GPU name, from the vendors' data sheets.
GPU_PEAK_BF16_TFLOPS = {
    "H200": 989.0,
    "H100": 989.0,
    "A100": 312.0,
    "A10": 125.0,
    "L40S": 362.0,
    "L4": 121.0,
    "T4": 65.0,
}

QUICK = {"value": False}
"""Set by --quick: fewer repetitions (the tests use it)."""


def _repeats(full: int, quick: int) -> int:
    return quick if QUICK["value"] else full


def _rate(fn: Callable[[], None], count: int) -> float:
    """Calls of `fn` per second (after one warm-up call)."""
    fn()
    start = time.perf_counter()
    for _ in range(count):
        fn()
    return count / (time.perf_counter() - start)


def bench_envs(device: torch.device) -> dict:
    """Physics steps/s alone and with rendering (what data collection and evaluation pay)."""
    env = ControlEnv("reacher-easy")
    env.reset(0)
    action = np.zeros(env.action_dim, np.float32)
    n = _repeats(2000, 50)
    figures = {"reacher_agent_steps_per_s": _rate(lambda: env.step(action), n)}
    figures["reacher_control_steps_per_s"] = figures["reacher_agent_steps_per_s"] * env.spec.action_repeat
    for size in (128, 256):
        figures[f"reacher_steps_per_s_render_{size}px"] = _rate(
            lambda size=size: (env.step(action), env.render(size)), _repeats(50, 3)
        )
    return figures


def _vitl_flops_per_frame(encoder: VJEPA2Encoder) -> float:
    """Forward FLOPs for one frame (one tubelet): 24 N d^2 (projections, MLP) + 4 N^2 d (attention) per layer."""
    cfg = encoder.model.config
    tokens = (encoder.info.image_size // cfg.patch_size) ** 2
    d, layers = cfg.hidden_size, cfg.num_hidden_layers
    return layers * (24 * tokens * d * d + 4 * tokens * tokens * d)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _encoder_rate(name: str, preset_name: str, device: torch.device, frames: int, **preset_changes) -> dict:
    """Frames/s of `encode` (processor + model) on a batch of rendered frames, after a warm-up
    at the same batch size; for V-JEPA 2 also the model alone on preprocessed pixels, so the
    processor's share shows, and the FLOP utilisation."""
    env = ControlEnv("reacher-easy")
    preset = get_preset(preset_name)
    if preset_changes:
        preset = replace(preset, **preset_changes)
    encoder = build_encoder(name, env, preset, device)
    env.reset(0)
    batch = np.stack([encoder.observe(env)] * frames)
    repeats = 3 if device.type == "cuda" else 1
    encoder.encode(batch if device.type == "cuda" else batch[: min(frames, 2)])  # warm-up
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        encoder.encode(batch)
    _sync(device)
    fps = repeats * frames / (time.perf_counter() - start)
    figures = {"frames_per_s": fps, "image_size": encoder.info.image_size or 0, "dim": encoder.info.dim}
    if isinstance(encoder, VJEPA2Encoder):
        figures["batch"] = encoder.batch_size
        figures["layers"] = encoder.model.config.num_hidden_layers
        figures["gflops_per_frame"] = _vitl_flops_per_frame(encoder) / 1e9
        figures["tflops_achieved"] = fps * figures["gflops_per_frame"] / 1e3
        figures["model_only_frames_per_s"] = _model_only_rate(encoder, batch, repeats)
        if device.type == "cuda":
            name = torch.cuda.get_device_name(device)
            peak = next((v for k, v in GPU_PEAK_BF16_TFLOPS.items() if k in name), None)
            figures["gpu"] = name
            if peak:
                figures["fraction_of_bf16_peak"] = figures["tflops_achieved"] / peak
                model_tflops = figures["model_only_frames_per_s"] * figures["gflops_per_frame"] / 1e3
                figures["model_only_fraction_of_bf16_peak"] = model_tflops / peak
    return figures


@torch.inference_mode()
def _model_only_rate(encoder: VJEPA2Encoder, frames: np.ndarray, repeats: int) -> float:
    """Frames/s of the V-JEPA 2 forward pass alone (bf16 autocast on CUDA), pixels already on the device."""
    from contextlib import nullcontext

    device = encoder.device
    chunk = frames[: encoder.batch_size]
    clips = np.repeat(chunk[:, None], encoder.tubelet_size, axis=1)
    pixels = clips_to_pixels(encoder.processor, clips, device)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()
    calls = max(1, len(frames) // len(chunk)) * repeats

    def forward() -> None:
        with autocast:
            encoder.model(pixel_values_videos=pixels, skip_predictor=True)

    forward()
    _sync(device)
    start = time.perf_counter()
    for _ in range(calls):
        forward()
    _sync(device)
    return calls * len(chunk) / (time.perf_counter() - start)


def bench_encoders(device: torch.device) -> dict:
    """Encoder frames/s (render excluded) for each encoder and image size on this device."""
    vitl = {"random_encoder": {}}  # the full ViT-L: the pretrained model's compute
    cases = {
        "state": ("state", "cpu", 1000, {}),
        "vjepa2-random_smoke_32px": ("vjepa2-random", "smoke", 64, {}),
        "vjepa2-random_cpu_128px": ("vjepa2-random", "cpu", _repeats(64, 4), {}),
        "vitl_128px": ("vjepa2-random", "cpu", _repeats(16, 2), vitl),
        "vitl_256px": ("vjepa2-random", "full", _repeats(8, 2) if device.type == "cpu" else 256, vitl),
    }
    if device.type == "cuda":  # larger batches keep a big GPU busy
        cases["vitl_256px_b256"] = ("vjepa2-random", "full", 1024, {**vitl, "encode_batch": 256})
    figures = {}
    for label, (name, preset, frames, changes) in cases.items():
        for key, value in _encoder_rate(name, preset, device, frames, **changes).items():
            figures[f"{label}_{key}"] = value
    return figures


def bench_encoder_latency(device: torch.device) -> dict:
    """ms per frame of each encoder as the evaluation calls it, on motion clips (previous frame,
    current frame), at batch 1 (one episode) and batch 50 (50 episodes in lockstep), render
    excluded. `vjepa2-task` is the cpu preset's pretraining architecture, saved with
    `save_pretrained` and loaded back through the encoder's own loading path (its weights are
    freshly initialised: the same compute as a pretrained one). The ViT-L runs on CUDA only."""
    import tempfile

    env = ControlEnv("reacher-easy")
    preset = get_preset("cpu")
    figures: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        encoders = {
            "state": build_encoder("state", env, preset, device),
            "vjepa2-random": build_encoder("vjepa2-random", env, preset, device),
            # the random encoder's variant that BC reads best (README, "From pixels")
            "vjepa2-random_64px_grid2": build_encoder(
                "vjepa2-random", env, replace(preset, image_size=64), device, pooling="grid2"
            ),
            "vjepa2-task": _fresh_task_encoder(env, preset, Path(folder), device),
        }
        if device.type == "cuda":
            full = replace(get_preset("full"), random_encoder={})  # the ViT-L at 256 px
            encoders["vitl_256px"] = build_encoder("vjepa2-random", env, full, device)
        for name, encoder in encoders.items():
            figures.update(_clip_latency(name, encoder, env, device))
    return figures


def _fresh_task_encoder(env: ControlEnv, sizes: Preset, folder: Path, device: torch.device):
    """A `vjepa2-task` encoder of the preset's size, through save_pretrained / from_pretrained."""
    from train_robots.common.task_encoder import TASK_ENCODER_NAME, save_task_encoder, task_processor
    from train_robots.pretrain_encoder import build_model

    model = build_model(sizes, seed=0)
    save_task_encoder(folder, model, task_processor(sizes.pretrain_image_size), {"task": env.name, "pooling": "grid2"})
    return build_encoder(TASK_ENCODER_NAME, env, sizes, device, str(folder))


def _clip_latency(name: str, encoder, env: ControlEnv, device: torch.device) -> dict:
    env.reset(0)
    first = encoder.observe(env)
    env.step(np.zeros(env.action_dim, np.float32))
    clip = encoder.motion_inputs(first[None], encoder.observe(env)[None])
    figures = {}
    for batch in (1, 50):
        clips = np.repeat(clip, batch, axis=0)
        repeats = _repeats(20 if batch == 1 else 3, 2)
        rate = _rate(lambda clips=clips: (encoder.encode(clips), _sync(device)), repeats)
        figures[f"{name}_b{batch}_ms_per_frame"] = 1000.0 / (rate * batch)
    figures[f"{name}_dim"] = encoder.info.dim
    return figures


def bench_sac_policy(device: torch.device) -> dict:
    """Dream-SAC actor: ms per action at batch 1 (goal <= 1 ms on CPU), encoder excluded.

    The default actor on a V-JEPA 2 latent (D = 1024, A = 6: the widest action of the
    tasks), timed through SACController.act, the path closed-loop evaluation runs.
    """
    from train_robots.common.sac import SACAgent, SACConfig, SACController

    dim, action_dim = 1024, 6
    figures = {"latent_dim": dim, "action_dim": action_dim, "hidden": SACConfig(dim, action_dim).hidden}
    z = np.random.default_rng(0).standard_normal((1, dim)).astype(np.float32)  # one episode
    devices = [torch.device("cpu")] + ([device] if device.type == "cuda" else [])
    for where in devices:
        agent = SACAgent(
            SACConfig(dim, action_dim),
            np.zeros(dim),
            np.ones(dim),
            -np.ones(action_dim, np.float32),
            np.ones(action_dim, np.float32),
        )
        controller = SACController(agent, where)
        for _ in range(10):  # warm-up (allocator, kernels)
            controller.act(z)
        rate = _rate(lambda controller=controller: controller.act(z), _repeats(2000, 20))
        figures[f"{where.type}_ms_per_action"] = 1000.0 / rate
    return figures


def bench_expert_training(device: torch.device) -> dict:
    """Walker's online SAC expert (train_expert.py, cpu preset): where an agent step's time goes, and
    the minutes 500k env steps take at these rates (aim: <= 90 on the 2-core CPU).

    Per agent step the trainer steps the environment (action repeat 2), acts (batch 1) and makes
    --updates-per-step SAC updates (batch 256, twin critics) from a replay buffer.
    """
    from train_robots import train_expert

    cfg = train_expert.Config(task="walker-walk", encoder="state", preset="cpu").resolved()
    env = ControlEnv(cfg.task)
    stored = 4 * cfg.batch_size  # random transitions: an update costs the same whatever they hold
    run = train_expert.build_run(replace(cfg, buffer_size=stored), env, device)
    run.buffer.add(
        {
            "z": torch.randn(stored, env.obs_dim),
            "action": torch.rand(stored, env.action_dim) * 2 - 1,
            "reward": torch.rand(stored),
            "next_z": torch.randn(stored, env.obs_dim),
            "discount": torch.ones(stored),
        }
    )
    env.reset(0)
    rng = np.random.default_rng(0)
    obs = torch.as_tensor(env.observation(), device=device)[None]

    def env_step() -> None:
        env.step(rng.uniform(env.action_low, env.action_high))
        env.observation()

    def act() -> None:
        with torch.no_grad():
            run.agent.act(obs).cpu()

    def sac_update() -> None:
        run.agent.update(run.buffer.sample(cfg.batch_size, run.sampler))
        if device.type == "cuda":
            torch.cuda.synchronize()

    ms = {name: 1000.0 / _rate(fn, _repeats(n, 3)) for name, fn, n in [("env", env_step, 300), ("act", act, 300)]}
    ms["update"] = 1000.0 / _rate(sac_update, _repeats(100, 3))
    per_step = ms["env"] + ms["act"] + cfg.updates_per_step * ms["update"]
    return {
        "updates_per_agent_step": cfg.updates_per_step,
        "env_ms_per_agent_step": ms["env"],
        "act_ms": ms["act"],
        "update_ms": ms["update"],
        "update_share": cfg.updates_per_step * ms["update"] / per_step,
        "minutes_for_500k_env_steps": cfg.agent_steps() * per_step / 60_000.0,
    }


def bench_dynamics_training(device: torch.device) -> dict:
    """World-model training throughput (transitions predicted per second, forward + backward +
    AdamW step) for each kind at D = 1024 (V-JEPA 2) and D = 8 (reacher state), cpu-preset sizes
    and train_dynamics.py's default multi-step objective."""
    from train_robots import train_dynamics
    from train_robots.common.world_model import WorldModel

    base = train_dynamics.Config(preset="cpu").resolved()
    kinds = {
        "mlp": dict(model="mlp"),
        "ensemble5": dict(model="mlp", ensemble=5),
        "transformer": dict(model="transformer"),
    }
    figures = {"batch": base.batch, "rollout_steps": base.rollout_steps, "width": base.width}
    for dim in (1024, 8):
        for label, change in kinds.items():
            cfg = replace(base, **change)
            model = WorldModel(cfg.world_model_config(dim, 2)).to(device)
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
            length = train_dynamics.sequence_length(cfg)
            zn = torch.randn(cfg.batch, length + 1, dim, device=device)
            an, reward = torch.randn(cfg.batch, length, 2, device=device), torch.rand(cfg.batch, length, device=device)

            def step(model=model, optimizer=optimizer, zn=zn, an=an, reward=reward, cfg=cfg) -> None:
                loss = train_dynamics.sequence_loss(
                    model, zn, an, reward, torch.ones_like(reward), cfg.rollout_steps > 1
                )
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if device.type == "cuda":
                    torch.cuda.synchronize()

            rate = _rate(step, _repeats(20, 2))
            figures[f"D{dim}_{label}_samples_per_s"] = rate * cfg.batch * length
    return figures


def bench_policy_latency(device: torch.device) -> dict:
    """BC policy MLP: ms per action at batch 1 (goal <= 1 ms on CPU), encoder excluded.

    The cpu-preset policy on a V-JEPA 2 latent (D = 1024, A = 6: the widest action of the
    tasks), timed through PolicyController.act, the path closed-loop evaluation runs.
    """
    from train_robots.common.policy import PolicyController, PolicyMLP

    preset = get_preset("cpu")
    dim, action_dim = 1024, 6
    figures = {"latent_dim": dim, "action_dim": action_dim, "hidden": preset.bc_hidden, "layers": preset.bc_layers}
    z = np.random.default_rng(0).standard_normal((1, dim)).astype(np.float32)  # one episode
    bounds = np.ones(action_dim, np.float32)
    devices = [torch.device("cpu")] + ([device] if device.type == "cuda" else [])
    for where in devices:
        policy = PolicyMLP(dim, action_dim, preset.bc_hidden, preset.bc_layers, -bounds, bounds).to(where)
        controller = PolicyController(policy)
        for _ in range(10):  # warm-up (allocator, kernels)
            controller.act(z)
        rate = _rate(lambda controller=controller: controller.act(z), _repeats(2000, 20))
        figures[f"{where.type}_ms_per_action"] = 1000.0 / rate
    return figures


def _planner_model(dim: int, device: torch.device, width: int | None = None):
    """A WorldModel (default size, or `width`) with non-trivial dynamics (a fresh output layer is zero)."""
    from train_robots.common.world_model import WorldModel, WorldModelConfig

    torch.manual_seed(0)
    sizes = {} if width is None else {"width": width}
    model = WorldModel(WorldModelConfig(latent_dim=dim, action_dim=2, **sizes)).to(device).eval()
    with torch.no_grad():
        for member in model.members:
            torch.nn.init.normal_(member.out.weight, std=0.02)
    return model


PIXEL_DIM = 4096
"""The latent width of `vjepa2-random` at 64 px with grid2 pooling (4 cells x 1024)."""


def _pixel_budget_planning(device: torch.device, **flags):
    """CEM's config at the cpu preset's pixel budget (goal objective, horizon 20, no handover;
    `flags` override PlannerFlags), a world model of the preset's width on a PIXEL_DIM latent, and
    the action bounds."""
    from train_robots.mpc_planner import PlannerFlags

    preset = sizes_for("cpu", "reacher-easy", "vjepa2-random")
    plan_flags = PlannerFlags(**{"planner": "cem", "horizon": 20, "handover": 0.0, **flags})
    cfg = plan_flags.sized(preset, task_spec("reacher-easy"))
    return cfg, _planner_model(PIXEL_DIM, device, preset.dynamics_width), np.ones(2, np.float32)


def _plan_rate(planner, z: np.ndarray, goal: np.ndarray, repeats: int) -> float:
    """Plans per second of a planner on a batch of problems (z, goal: [N, D])."""
    planner.reset()

    def plan() -> None:
        planner.plan(z, goal)
        if planner.device.type == "cuda":
            torch.cuda.synchronize()

    return _rate(plan, repeats)


def bench_planners(device: torch.device) -> dict:
    """Planner latency and throughput at the default sizes (1000 samples, horizon 10, 5 iterations,
    one plan per action) with a freshly initialised default-size WorldModel, at D = 1024 (V-JEPA 2)
    and D = 8 (reacher state). Goals: CEM <= 150 ms per action on 2 CPU cores and <= 5 ms on a GPU
    at D = 1024, N = 1. N problems planned in one batch (episodes evaluated in lockstep) give
    `D*_<planner>_N<n>_actions_per_s` (N / batch time) and ms per action = batch time / N.
    Also the plain (unfolded) fp32 CEM, the naive baseline."""
    from train_robots.common.imagination import imagination
    from train_robots.common.planners import Planner, PlannerConfig

    figures: dict = {"samples": 1000, "horizon": 10, "iterations": 5}
    rng = np.random.default_rng(0)
    bounds = np.ones(2, np.float32)
    for dim in (1024, 8):
        model = _planner_model(dim, device)
        z, goal = rng.standard_normal((2, 50, dim)).astype(np.float32)
        cases = {name: (PlannerConfig(planner=name), True, (1, 8, 50)) for name in ("random", "cem", "mppi")}
        cases["cem_fp32"] = (PlannerConfig(planner="cem", precision="fp32"), True, (1,))
        if dim == 1024:
            cases["cem_plain_fp32"] = (PlannerConfig(planner="cem", precision="fp32"), False, (1,))
        for label, (cfg, fast, batches) in cases.items():
            planner = Planner(model, cfg, -bounds, bounds, device=device)
            planner.imagine = imagination(model, planner._unit_weight, True, planner.precision, fast=fast)
            if label == "cem":
                figures["precision"] = planner.precision
            for n in batches:
                repeats = _repeats(10 if fast else 3, 1) if n == 1 else _repeats(3, 1)
                rate = _plan_rate(planner, z[:n], goal[:n], repeats) * n
                suffix = "" if n == 1 else f"_N{n}"
                figures[f"D{dim}_{label}{suffix}_ms_per_action"] = 1000.0 / rate
                figures[f"D{dim}_{label}_N{n}_actions_per_s"] = rate
    return figures


def bench_planner_hold(device: torch.device) -> dict:
    """Toward a goal image at the cpu preset's planner defaults (reacher, state latent D = 8,
    N = 50 problems in one batch, the default-size world model and a fresh dream-SAC agent): ms
    per plan while reaching (half the samples from the actor, 40 steps), and past the handover
    (20 steps) imagining every sample or the preset's `plan_hold_samples`. Nearly every plan of
    an episode is past the handover. Target: holding >= 3x cheaper than with every sample."""
    from train_robots.common.planners import Planner
    from train_robots.common.sac import SACAgent, SACConfig
    from train_robots.mpc_planner import PlannerFlags

    preset, dim, n = get_preset("cpu"), 8, 50
    cfg = PlannerFlags(planner="cem").sized(preset, task_spec("reacher-easy"))
    model = _planner_model(dim, device)
    bounds = np.ones(2, np.float32)
    agent = SACAgent(SACConfig(dim, 2), np.zeros(dim), np.ones(dim), -bounds, bounds).to(device)  # default size
    far, goal = np.random.default_rng(0).standard_normal((2, n, dim)).astype(np.float32)
    near = goal + 0.01 * (far - goal)
    figures = {"problems": n, "samples": cfg.samples, "hold_samples": cfg.hold_samples, "horizon": cfg.horizon}
    cases = {
        "reaching": (cfg, far),
        "holding_all_samples": (replace(cfg, hold_samples=0), near),
        "holding": (cfg, near),
    }
    for label, (plan_cfg, z) in cases.items():
        planner = Planner(model, plan_cfg, -bounds, bounds, device=device, agent=agent)
        planner.reset(list(range(n)))
        planner.plan(far, goal)  # the episodes' first plan sets the distance the handover compares with
        rate = _rate(lambda planner=planner, z=z: planner.plan(z, goal), _repeats(3, 1))
        figures[f"{label}_ms_per_plan"] = 1000.0 / rate
    figures["hold_speedup"] = figures["holding_all_samples_ms_per_plan"] / figures["holding_ms_per_plan"]
    return figures


def bench_planner_prior(device: torch.device) -> dict:
    """CEM guided by dream-SAC's actor as run from pixels (the cpu preset's pixel sizes: 100
    samples, half from the actor, 3 iterations, world model width 512; goal objective, horizon 20,
    no handover: every plan rolls the actor's samples) at D = 4096 (vjepa2-random, 64 px, grid2
    pooling), N = 10 problems in one batch (2 with --quick): ms per plan with the actor's samples
    rolled folded (the default) and plain, step by step through the D-wide latent. Target:
    folded >= 3x faster."""
    from train_robots.common.planners import Planner
    from train_robots.common.policy_prior import policy_prior
    from train_robots.common.sac import SACAgent, SACConfig

    dim, n = PIXEL_DIM, _repeats(10, 2)
    cfg, model, bounds = _pixel_budget_planning(device)
    agent = SACAgent(SACConfig(dim, 2), np.zeros(dim), np.ones(dim), -bounds, bounds).to(device).eval()
    z, goal = np.random.default_rng(0).standard_normal((2, n, dim)).astype(np.float32)
    figures = {"dim": dim, "problems": n, "samples": cfg.samples, "prior_samples": cfg.prior_samples}
    for label, fast in (("folded", True), ("plain", False)):
        planner = Planner(model, cfg, -bounds, bounds, device=device, agent=agent)
        planner._prior_rollout = policy_prior(model, agent, planner._to_env, fast=fast)
        planner.reset(list(range(n)))
        rate = _rate(lambda planner=planner: planner.plan(z, goal), _repeats(3, 1))
        figures[f"{label}_ms_per_plan"] = 1000.0 / rate
    figures["folded_speedup"] = figures["plain_ms_per_plan"] / figures["folded_ms_per_plan"]
    return figures


def bench_planner_lockstep(device: torch.device) -> dict:
    """Pure CEM at the cpu preset's pixel budget (100 samples, 3 iterations, horizon 20, world
    model width 512) at D = 4096 (vjepa2-random, 64 px, grid2): ms per plan and problem (a batch's
    time / N) with N problems planned in one batch, and the problem's bytes the evaluation sizes
    its lockstep batch by, and the batch a CPU evaluation of 50 episodes takes from it by default. On a
    CPU a wide latent's imagined steps outgrow the caches as N grows."""
    from train_robots.common.planners import Planner
    from train_robots.common.rollout import episodes_in_parallel

    dim = PIXEL_DIM
    cfg, model, bounds = _pixel_budget_planning(device, prior_samples=0)
    sizes = (1, 5, 10, 25, 50) if not QUICK["value"] else (1, 2)
    z, goal = np.random.default_rng(0).standard_normal((2, max(sizes), dim)).astype(np.float32)
    planner = Planner(model, cfg, -bounds, bounds, device=device)
    figures = {"dim": dim, "samples": cfg.samples, "bytes_per_problem": planner.bytes_per_problem()}
    # What an evaluation of 50 episodes runs in one batch on a CPU by default (CPU_MEMORY_BUDGET).
    figures["cpu_default_N"] = episodes_in_parallel(None, 50, figures["bytes_per_problem"], torch.device("cpu"))
    for n in sizes:
        rate = _plan_rate(planner, z[:n], goal[:n], _repeats(3 if n < 25 else 2, 1)) * n
        figures[f"N{n}_ms_per_problem"] = 1000.0 / rate
    return figures


def bench_evaluation(device: torch.device) -> dict:
    """Closed-loop evaluation, one episode at a time against all in lockstep (one batched render
    -> encode -> act per step): agent steps per second of a cpu-preset BC policy (D = 1024) on
    `vjepa2-random` at the cpu preset's size (128 px), render included. Target: >= 5x at N = 50."""
    from train_robots.common.policy import PolicyController, PolicyMLP
    from train_robots.common.rollout import evaluate

    preset = get_preset("cpu")
    env = ControlEnv("reacher-easy")
    encoder = build_encoder("vjepa2-random", env, preset, device)
    policy = PolicyMLP(
        encoder.info.dim, env.action_dim, preset.bc_hidden, preset.bc_layers, env.action_low, env.action_high
    )
    controller = PolicyController(policy.to(device))
    episodes, steps = 50, _repeats(10, 2)
    figures = {"episodes": episodes, "episode_steps": steps, "image_size": preset.image_size}
    evaluate(env, encoder, controller, episodes, 1, seed=0, parallel=episodes, desc="warm-up")  # makes the envs
    for n in (1, episodes):
        start = time.perf_counter()
        metrics = evaluate(env, encoder, controller, episodes, steps, seed=0, parallel=n, desc=f"eval N={n}")
        figures[f"N{n}_steps_per_s"] = episodes * steps / (time.perf_counter() - start)
        figures[f"N{n}_ms_per_step"] = metrics["ms_per_step"]
    figures["speedup"] = figures[f"N{episodes}_steps_per_s"] / figures["N1_steps_per_s"]
    return figures


SECTIONS: dict[str, Callable[[torch.device], dict]] = {
    "envs": bench_envs,
    "encoders": bench_encoders,
    "encoder_latency": bench_encoder_latency,
    "policy_latency": bench_policy_latency,
    "sac_policy": bench_sac_policy,
    "expert_training": bench_expert_training,
    "dynamics_training": bench_dynamics_training,
    "planners": bench_planners,
    "planner_hold": bench_planner_hold,
    "planner_prior": bench_planner_prior,
    "planner_lockstep": bench_planner_lockstep,
    "evaluation": bench_evaluation,
}


@dataclass
class Config(CloudConfig):
    sections: tuple[str, ...] = field(default_factory=tuple)
    """Sections to run (default: all): envs, encoders, ..."""
    quick: bool = False
    """Fewer repetitions: a smoke check of the benchmark itself, not a measurement."""
    out: Path = REPO_ROOT / "bench.json"
    """Where the figures are written (by `modal run`: here, and a copy on the volume)."""

    def on_volume(self) -> Config:
        return replace(super().on_volume(), out=Path(cloud.REMOTE_ROOT) / "bench.json")


def main(cfg: Config) -> dict:
    device = resolve_device(cfg.device)
    unknown = [s for s in cfg.sections if s not in SECTIONS]
    if unknown:
        raise ConfigError(f"--sections {unknown} unknown; choose from {list(SECTIONS)}")
    QUICK["value"] = cfg.quick
    torch.manual_seed(0)
    results = {
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "cpu_threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "torch": torch.__version__,
        "quick": cfg.quick,
    }
    for name in cfg.sections or SECTIONS:
        print(f"-- {name}", flush=True)
        results[name] = SECTIONS[name](device)
        for key, value in results[name].items():
            shown = f"{value:12.3f}" if isinstance(value, float) else f"{value!s:>12}"
            print(f"   {key:48s} {shown}")
    write_json(cfg.out, results)
    print(f"wrote {cfg.out}")
    return results


# ---------------------------------------------------------------- Modal (cloud GPUs)


def save_here(cfg: Config, results: dict) -> None:
    write_json(cfg.out, results)
    print(f"wrote {cfg.out}")


phase = cloud.phase_app("train-robots-bench", Config, main, timeout=3600, report=save_here)
app = phase.app


if __name__ == "__main__":
    cli.run(main, Config)
