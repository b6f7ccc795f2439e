"""GPU experiment: what bounds V-JEPA 2 ViT-L 256 px encoding, and what lifts it."""

import sys
import time

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
import torch
from transformers import VJEPA2Config, VJEPA2Model

torch.backends.cuda.matmul.allow_tf32 = True
dev = torch.device("cuda")
cfg = VJEPA2Config(crop_size=256)
print("attn", cfg._attn_implementation)
torch.manual_seed(0)
model = VJEPA2Model(cfg).to(dev).eval()
print("attn impl after init", model.config._attn_implementation)
peak = 989.0
gflops = 24 * (24 * 256 * 1024**2 + 4 * 256**2 * 1024) / 1e9


def rate(fn, batch, n=5):
    x = torch.randn(batch, 2, 3, 256, 256, device=dev)
    with torch.inference_mode():
        fn(x)
        fn(x)
        torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(n):
            fn(x)
        torch.cuda.synchronize()
    fps = n * batch / (time.perf_counter() - t)
    return f"{fps:8.0f} fps  {fps * gflops / 1e3 / peak:.3f} of peak"


def autocast_fwd(x):
    with torch.autocast("cuda", dtype=torch.bfloat16):
        return model.encoder(pixel_values_videos=x).last_hidden_state


for b in (64, 256):
    print("autocast fp32 weights b", b, rate(autocast_fwd, b))
with torch.inference_mode():
    x = torch.randn(64, 2, 3, 256, 256, device=dev)
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA, ProfilerActivity.CPU]) as prof:
        autocast_fwd(x)
        torch.cuda.synchronize()
    print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=18, max_name_column_width=60))
bf = VJEPA2Model(cfg).to(dev, torch.bfloat16).eval()
for b in (64, 256):
    print("bf16 weights b", b, rate(lambda x: bf.encoder(pixel_values_videos=x.bfloat16()).last_hidden_state, b))
try:
    t0 = time.time()
    compiled = torch.compile(bf.encoder)
    print(
        "compiled bf16 b 256",
        rate(lambda x: compiled(pixel_values_videos=x.bfloat16()).last_hidden_state, 256),
        f"(compile+run {time.time() - t0:.0f} s)",
    )
except Exception as err:  # an experiment: report and go on
    print("compile failed", type(err).__name__, str(err)[:300])
