"""Collapse monitor for self-supervised encoders: does the target still tell inputs apart?

A JEPA can satisfy its loss by mapping every input to the same features. Two figures watch
for it on the target encoder's (layer-normed) token features [M, D]:

- `feature_std`: the per-dimension standard deviation over tokens, averaged over dimensions;
  it falls toward 0 as the features stop varying.
- `effective_rank`: exp of the entropy of the normalised singular values of the centred
  features (Roy & Vetterli, 2007); between 1 and D, it falls as the features crowd into
  a few directions.
- `clip_std`: the per-dimension std over clips of each clip's mean token feature. On a scene
  that is mostly static background (reacher: 6 of 64 tokens show the arm or the target) the
  token figures stay healthy while the encoder erases the moving objects, since background
  tokens still differ by position; what tells clips apart is the objects, so this one falls.
"""

from __future__ import annotations

import math

import torch

from train_robots.common.training import TrainingError


class CollapseError(TrainingError):
    """The target features stopped varying: training cannot produce a useful encoder."""


@torch.no_grad()
def feature_std(features: torch.Tensor) -> float:
    """Mean over dimensions of the std over rows of features [..., D]."""
    flat = features.reshape(-1, features.shape[-1]).float()
    return float(flat.std(dim=0).mean())


@torch.no_grad()
def effective_rank(features: torch.Tensor) -> float:
    """exp(entropy of the normalised singular values) of the centred rows of features [..., D]."""
    flat = features.reshape(-1, features.shape[-1]).float()
    singular = torch.linalg.svdvals(flat - flat.mean(dim=0))
    total = singular.sum()
    if not total > 0:
        return 1.0
    p = singular / total
    p = p[p > 0]
    return float(math.exp(-(p * p.log()).sum()))


@torch.no_grad()
def clip_std(features: torch.Tensor) -> float:
    """Mean over dimensions of the std over clips of the clips' mean features; features [B, N, D]."""
    return float(features.float().mean(dim=1).std(dim=0).mean())


def check_collapse(std: float, rank: float, step: int, min_std: float, min_rank: float, kept: str) -> None:
    """Stop with a clear message when the target features have collapsed."""
    if math.isfinite(std) and std >= min_std and rank >= min_rank:
        return
    raise CollapseError(
        f"the target encoder collapsed at step {step}: feature std {std:.4g} (floor {min_std}), effective "
        f"rank {rank:.3g} (floor {min_rank}); its features no longer tell clips apart. Lower --lr or raise "
        f"--ema-start, then rerun with --force to start over ({kept})"
    )
