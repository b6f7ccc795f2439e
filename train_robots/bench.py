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
from train_robots.common.envs import ControlEnv  # noqa: E402
from train_robots.common.presets import get_preset  # noqa: E402
from train_robots.common.run_config import CloudConfig  # noqa: E402
from train_robots.common.runtime import REPO_ROOT, ConfigError, resolve_device, write_json  # noqa: E402

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


def _encoder_rate(name: str, preset_name: str, device: torch.device, frames: int, **preset_changes) -> dict:
    env = ControlEnv("reacher-easy")
    preset = get_preset(preset_name)
    if preset_changes:
        preset = replace(preset, **preset_changes)
    encoder = build_encoder(name, env, preset, device)
    env.reset(0)
    batch = np.stack([encoder.observe(env)] * frames)
    encoder.encode(batch[: min(frames, 2)])  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    encoder.encode(batch)
    if device.type == "cuda":
        torch.cuda.synchronize()
    fps = frames / (time.perf_counter() - start)
    figures = {"frames_per_s": fps, "image_size": encoder.info.image_size or 0, "dim": encoder.info.dim}
    if isinstance(encoder, VJEPA2Encoder):
        figures["layers"] = encoder.model.config.num_hidden_layers
        figures["gflops_per_frame"] = _vitl_flops_per_frame(encoder) / 1e9
        figures["tflops_achieved"] = fps * figures["gflops_per_frame"] / 1e3
        if device.type == "cuda":
            name = torch.cuda.get_device_name(device)
            peak = next((v for k, v in GPU_PEAK_BF16_TFLOPS.items() if k in name), None)
            figures["gpu"] = name
            if peak:
                figures["fraction_of_bf16_peak"] = figures["tflops_achieved"] / peak
    return figures


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
    figures = {}
    for label, (name, preset, frames, changes) in cases.items():
        for key, value in _encoder_rate(name, preset, device, frames, **changes).items():
            figures[f"{label}_{key}"] = value
    return figures


def bench_sac_policy(device: torch.device) -> dict:
    """Dream-SAC actor: ms per action at batch 1 (goal <= 1 ms on CPU), encoder excluded.

    The default actor on a V-JEPA 2 latent (D = 1024, A = 6: the widest action of the
    tasks), timed through SACController.act, the path closed-loop evaluation runs.
    """
    from train_robots.common.sac import SACAgent, SACConfig, SACController

    dim, action_dim = 1024, 6
    figures = {"latent_dim": dim, "action_dim": action_dim, "hidden": SACConfig(dim, action_dim).hidden}
    z = np.random.default_rng(0).standard_normal(dim).astype(np.float32)
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
    z = np.random.default_rng(0).standard_normal(dim).astype(np.float32)
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


def bench_planners(device: torch.device) -> dict:
    """Planner latency: ms per action (one plan per action) for each planner at the default
    sizes (1000 samples, horizon 10, 5 iterations) with a freshly initialised default-size
    WorldModel, at D = 1024 (V-JEPA 2) and D = 8 (reacher state). Goals: <= 150 ms on 2 CPU
    cores and <= 5 ms on a GPU at D = 1024. Also the plain (unfolded) fp32 CEM, the naive baseline."""
    from train_robots.common.planners import Planner, PlannerConfig, imagination
    from train_robots.common.world_model import WorldModel, WorldModelConfig

    figures: dict = {"samples": 1000, "horizon": 10, "iterations": 5}
    rng = np.random.default_rng(0)
    for dim in (1024, 8):
        torch.manual_seed(0)
        model = WorldModel(WorldModelConfig(latent_dim=dim, action_dim=2)).to(device).eval()
        with torch.no_grad():  # a fresh output layer is zero; give the dynamics something to do
            for member in model.members:
                torch.nn.init.normal_(member.out.weight, std=0.02)
        z, goal = rng.standard_normal((2, dim)).astype(np.float32)
        cases = {name: (PlannerConfig(planner=name), True) for name in ("random", "cem", "mppi")}
        cases["cem_fp32"] = (PlannerConfig(planner="cem", precision="fp32"), True)
        if dim == 1024:
            cases["cem_plain_fp32"] = (PlannerConfig(planner="cem", precision="fp32"), False)
        for label, (cfg, fast) in cases.items():
            planner = Planner(model, cfg, -np.ones(2, np.float32), np.ones(2, np.float32), device=device)
            planner.imagine = imagination(model, cfg, planner.precision, fast=fast)
            if label == "cem":
                figures["precision"] = planner.precision
            rate = _rate(lambda p=planner, z=z, goal=goal: p.plan(z, goal), _repeats(10 if fast else 3, 1))
            figures[f"D{dim}_{label}_ms_per_action"] = 1000.0 / rate
    return figures


SECTIONS: dict[str, Callable[[torch.device], dict]] = {
    "envs": bench_envs,
    "encoders": bench_encoders,
    "policy_latency": bench_policy_latency,
    "sac_policy": bench_sac_policy,
    "dynamics_training": bench_dynamics_training,
    "planners": bench_planners,
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
