"""Per-step schedules of V-JEPA pretraining: the learning rate and the EMA momentum."""

from __future__ import annotations

import math


def warmup_cosine(step: int, total: int, warmup: int, peak: float, start: float, final: float) -> float:
    """Linear warm-up from `start` to `peak` over `warmup` steps, then cosine decay to `final`
    at step `total`."""
    if step < warmup:
        return start + (peak - start) * step / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return final + 0.5 * (peak - final) * (1.0 + math.cos(math.pi * progress))


def ema_momentum(step: int, total: int, start: float, end: float) -> float:
    """EMA momentum rising linearly from `start` to `end` over training (I-JEPA: 0.996 -> 1.0):
    the target encoder follows closely early and settles late."""
    return start + (end - start) * min(1.0, step / max(1, total))
