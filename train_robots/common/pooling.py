"""Pool a V-JEPA encoder's token features into one latent vector per clip.

Tokens come depth-major then row-major ([B, depth * height * width, D]), as the patch
embedding emits them. Choices:

- `mean`: the mean over every token; D floats. Keeps what the tokens encode, loses where.
- `grid<k>` (e.g. `grid2`): the tubelets averaged, then the height x width grid split into
  k x k cells and each cell's tokens averaged; the k*k cell means concatenated, k*k*D floats.
  Keeps a coarse map of where things are (the encoder's RoPE gives tokens no absolute
  position of their own).
- `mean+grid<k>`: both, concatenated.
"""

from __future__ import annotations

import re

import torch

_GRID = re.compile(r"^(mean\+)?grid([1-9][0-9]*)$")


def check_pooling(name: str, grid_side: int) -> None:
    """A clear error for an unknown name or a grid that does not split the token grid evenly."""
    if name == "mean":
        return
    match = _GRID.match(name)
    if match is None:
        raise ValueError(f"pooling {name!r} is unknown; choose mean, grid<k> (e.g. grid2) or mean+grid<k>")
    cells = int(match.group(2))
    if grid_side % cells:
        raise ValueError(
            f"pooling {name!r}: a {grid_side}x{grid_side} token grid cannot be split into {cells}x{cells} cells"
        )


def pooled_dim(name: str, width: int) -> int:
    """Length of the pooled latent for an encoder of `width` features per token."""
    if name == "mean":
        return width
    match = _GRID.match(name)
    if match is None:
        raise ValueError(f"pooling {name!r} is unknown")
    cells = int(match.group(2)) ** 2
    return width * (cells + (1 if match.group(1) else 0))


def pool(tokens: torch.Tensor, name: str, grid_side: int) -> torch.Tensor:
    """tokens [B, depth * grid_side**2, D] -> latents [B, pooled_dim(name, D)]."""
    check_pooling(name, grid_side)
    if name == "mean":
        return tokens.mean(dim=1)
    match = _GRID.match(name)
    cells = grid_mean(tokens, grid_side, int(match.group(2)))
    return torch.cat([tokens.mean(dim=1), cells], dim=1) if match.group(1) else cells


def grid_mean(tokens: torch.Tensor, grid_side: int, cells: int) -> torch.Tensor:
    """The means of a cells x cells partition of the token grid (tubelets averaged), flattened."""
    batch, count, dim = tokens.shape
    depth = count // (grid_side * grid_side)
    if depth * grid_side * grid_side != count:
        raise ValueError(f"{count} tokens are not a whole number of {grid_side}x{grid_side} grids")
    side = grid_side // cells
    grid = tokens.reshape(batch, depth, cells, side, cells, side, dim)
    return grid.mean(dim=(1, 3, 5)).reshape(batch, cells * cells * dim)
