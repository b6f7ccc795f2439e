"""One-off: where a V-JEPA pretraining step of the cpu-preset encoder at 128 px spends its time on a GPU."""
import sys, time, numpy as np, torch
sys.path.insert(0, ".")
from torch.profiler import profile, ProfilerActivity
from train_robots.pretrain_encoder import Config, build_model, build_optimizer, train_step, sample_batch
from train_robots.common.jepa import JEPA
from train_robots.common.masks import Grid
from train_robots.common.task_encoder import task_processor, clips_to_pixels
px = int(sys.argv[1]) if len(sys.argv) > 1 else 128
batch = int(sys.argv[2]) if len(sys.argv) > 2 else 64
dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
cfg = Config(preset="cpu", image_size=px, var_weight=1.0, cov_weight=1.0); sizes = cfg.sizes()
from dataclasses import replace; sizes = replace(sizes, pretrain_batch=batch)
jepa = JEPA(build_model(sizes, 0), spread=(1.0, 1.0, cfg.var_floor)).to(dev); opt = build_optimizer(jepa.model, cfg.weight_decay)
proc = task_processor(px); side = px // sizes.pretrain_patch; grid = Grid(depth=1, height=side, width=side)
minc = int(np.ceil(cfg.min_context * grid.tokens)); specs = cfg.mask_specs()
frames = np.random.default_rng(0).integers(0, 255, (20, 101, px, px, 3), dtype=np.uint8)
def step(i):
    rng = np.random.default_rng([0, i]); t0 = time.perf_counter()
    clips = sample_batch(frames, np.arange(20), sizes.pretrain_batch, rng); t1 = time.perf_counter()
    pixels = clips_to_pixels(proc, clips).to(dev); t2 = time.perf_counter()
    train_step(jepa, opt, pixels, specs, grid, minc, rng, 0.9995, i, "-"); torch.cuda.synchronize() if dev.type == "cuda" else None
    return t1 - t0, t2 - t1, time.perf_counter() - t2
for i in range(5): step(i)
ts = np.array([step(i) for i in range(5, 25)]).mean(0) * 1e3
print(f"{px} px, batch {sizes.pretrain_batch}, {dev}: ms per step: sample {ts[0]:.1f}, processor+copy {ts[1]:.1f}, train_step {ts[2]:.1f} -> {sizes.pretrain_batch / ts.sum() * 1e3:.0f} clips/s")
with profile(activities=[ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])) as prof:
    for i in range(25, 30): step(i)
key = "cuda_time_total" if dev.type == "cuda" else "cpu_time_total"
ev = prof.key_averages()
print("per step: aten calls", sum(e.count for e in ev if e.key.startswith("aten::")) // 5,
      "| self CPU ms", sum(e.self_cpu_time_total for e in ev) / 5e3,
      "| self device ms", sum(getattr(e, "self_device_time_total", 0) for e in ev) / 5e3)
print(ev.table(sort_by=key, row_limit=12, max_name_column_width=50))
