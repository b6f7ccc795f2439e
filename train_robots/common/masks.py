"""Multiblock 3D masks for V-JEPA pretraining: which tokens the context encoder sees and
which ones the predictor must fill in.

A clip of `frames` frames cut into tubelets of 2 is a grid of (depth, height, width) tokens,
numbered depth-major then row-major (the order of `VJEPA2Model`'s patch embedding). A mask
draws `blocks` rectangular blocks, each covering `scale` of the spatial grid with an aspect
ratio (height / width) drawn from `aspect`, and spanning every tubelet (a block hides the
same place in the whole clip, so the encoder cannot copy it from a neighbouring frame). The
target is the union of the blocks; the context is the rest. A block that would leave fewer
than `min_context` context tokens is skipped; the first one is shrunk until it fits.

Every sample in a batch must have the same number of context tokens, and of target tokens,
for the model to take them as tensors [B, K]: like V-JEPA, the block size is drawn once per
batch, and each sample's context and target are cut down to the batch's smallest count, here
by a random subset rather than V-JEPA's first-K (which drops the bottom rows more often).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class MaskSpec:
    """One kind of mask (V-JEPA uses a short-range and a long-range kind side by side)."""

    blocks: int
    """Blocks drawn per sample; the target is their union."""
    scale: float
    """Share of the spatial grid one block covers."""
    aspect: tuple[float, float] = (0.75, 1.5)
    """Range of a block's height / width."""

    def validate(self) -> None:
        if self.blocks < 1:
            raise ValueError(f"a mask needs at least 1 block, got {self.blocks}")
        if not 0.0 < self.scale < 1.0:
            raise ValueError(f"a block's scale must lie in (0, 1), got {self.scale}")
        low, high = self.aspect
        if not 0.0 < low <= high:
            raise ValueError(f"aspect range must satisfy 0 < low <= high, got {self.aspect}")


@dataclass(frozen=True)
class Grid:
    """The token grid of a clip: tubelets x rows x columns."""

    depth: int
    height: int
    width: int

    @property
    def tokens(self) -> int:
        return self.depth * self.height * self.width


@dataclass
class Masks:
    """Token indices of one batch, sorted within each sample."""

    context: torch.Tensor
    """long [B, Kc]: tokens the context encoder sees."""
    target: torch.Tensor
    """long [B, Kt]: tokens the predictor fills in (disjoint from the context)."""


def block_shape(spec: MaskSpec, grid: Grid, min_context: int, rng: np.random.Generator) -> tuple[int, int]:
    """(height, width) of this batch's blocks: area `scale` of the grid, a random aspect ratio;
    shrunk along its longer side until one block leaves `min_context` tokens."""
    area = spec.scale * grid.height * grid.width
    low, high = spec.aspect
    aspect = math.exp(rng.uniform(math.log(low), math.log(high)))
    height = min(grid.height, max(1, round(math.sqrt(area * aspect))))
    width = min(grid.width, max(1, round(math.sqrt(area / aspect))))
    while grid.tokens - height * width * grid.depth < min_context and height * width > 1:
        if height >= width:
            height -= 1
        else:
            width -= 1
    return height, width


def sample_target(
    grid: Grid, shape: tuple[int, int], blocks: int, min_context: int, rng: np.random.Generator
) -> np.ndarray:
    """Boolean [depth, height, width]: the union of `blocks` blocks, each spanning all tubelets,
    skipping any block that would leave fewer than `min_context` tokens unmasked."""
    height, width = shape
    masked = np.zeros((grid.height, grid.width), dtype=bool)
    for index in range(blocks):
        top = rng.integers(0, grid.height - height + 1)
        left = rng.integers(0, grid.width - width + 1)
        trial = masked.copy()
        trial[top : top + height, left : left + width] = True
        if index > 0 and (~trial).sum() * grid.depth < min_context:
            continue
        masked = trial
    return np.broadcast_to(masked, (grid.depth, grid.height, grid.width))


def sample_masks(spec: MaskSpec, grid: Grid, batch: int, min_context: int, rng: np.random.Generator) -> Masks:
    """Context and target token indices for a batch, one mask per sample."""
    spec.validate()
    if grid.tokens - grid.depth < min_context:
        raise ValueError(f"min_context={min_context} leaves no token to mask on a grid of {grid.tokens} tokens")
    shape = block_shape(spec, grid, min_context, rng)
    targets = [sample_target(grid, shape, spec.blocks, min_context, rng).reshape(-1) for _ in range(batch)]
    context = [np.flatnonzero(~t) for t in targets]
    target = [np.flatnonzero(t) for t in targets]
    keep_context = min(len(c) for c in context)
    keep_target = min(len(t) for t in target)
    return Masks(
        context=torch.as_tensor(np.stack([_subset(c, keep_context, rng) for c in context])),
        target=torch.as_tensor(np.stack([_subset(t, keep_target, rng) for t in target])),
    )


def _subset(indices: np.ndarray, keep: int, rng: np.random.Generator) -> np.ndarray:
    """`keep` of `indices`, chosen at random, in increasing order."""
    if len(indices) == keep:
        return indices.astype(np.int64)
    return np.sort(rng.choice(indices, size=keep, replace=False)).astype(np.int64)
