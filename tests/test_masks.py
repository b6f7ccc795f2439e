"""Multiblock 3D mask sampler: disjoint, complete, seeded, a minimum context, blocks across time."""

import numpy as np
import pytest

from train_robots.common.masks import Grid, MaskSpec, sample_masks

GRID = Grid(depth=1, height=8, width=8)


def draw(spec, grid=GRID, batch=16, min_context=8, seed=0):
    return sample_masks(spec, grid, batch, min_context, np.random.default_rng(seed))


@pytest.mark.parametrize("spec", [MaskSpec(8, 0.15), MaskSpec(2, 0.7), MaskSpec(4, 0.15)])
def test_context_and_target_are_disjoint_sorted_and_batched(spec):
    masks = draw(spec)
    context, target = masks.context.numpy(), masks.target.numpy()
    assert context.shape[0] == target.shape[0] == 16 and context.shape[1] > 0 and target.shape[1] > 0
    for c, t in zip(context, target):
        assert not set(c) & set(t)
        assert np.all(np.diff(c) > 0) and np.all(np.diff(t) > 0)
        assert c.min() >= 0 and max(c.max(), t.max()) < GRID.tokens


def test_a_single_sample_is_covered_exactly_by_context_plus_target():
    for seed in range(20):
        masks = draw(MaskSpec(8, 0.15), batch=1, seed=seed)
        together = np.concatenate([masks.context[0].numpy(), masks.target[0].numpy()])
        assert sorted(together) == list(range(GRID.tokens))


def test_same_seed_same_masks_other_seed_other_masks():
    a, b, c = draw(MaskSpec(8, 0.15), seed=3), draw(MaskSpec(8, 0.15), seed=3), draw(MaskSpec(8, 0.15), seed=4)
    assert np.array_equal(a.context, b.context) and np.array_equal(a.target, b.target)
    assert a.context.shape != c.context.shape or not np.array_equal(a.context, c.context)


def test_minimum_context_is_kept_even_with_large_blocks():
    for seed in range(10):
        masks = draw(MaskSpec(8, 0.5), min_context=20, seed=seed)
        assert masks.context.shape[1] >= 20
    # without the floor the same blocks hide nearly everything
    assert min(draw(MaskSpec(8, 0.5), min_context=1, seed=s).context.shape[1] for s in range(10)) < 20


def test_block_area_follows_the_scale():
    for scale in (0.15, 0.3, 0.7):
        sizes = [draw(MaskSpec(1, scale), batch=1, min_context=1, seed=s).target.shape[1] for s in range(20)]
        assert abs(np.mean(sizes) - scale * 64) < 0.2 * scale * 64 + 2


def test_blocks_span_every_tubelet():
    grid = Grid(depth=3, height=8, width=8)
    masks = sample_masks(MaskSpec(3, 0.2), grid, 1, 8, np.random.default_rng(0))
    hidden = np.zeros(grid.tokens, bool)
    hidden[masks.target[0].numpy()] = True
    per_tubelet = hidden.reshape(3, 64)
    assert per_tubelet[0].any() and (per_tubelet == per_tubelet[0]).all()


def test_a_block_too_large_for_the_minimum_context_is_shrunk():
    for seed in range(10):
        masks = draw(MaskSpec(1, 0.9), min_context=20, seed=seed)
        assert masks.context.shape[1] >= 20 and masks.target.shape[1] >= 20
    with pytest.raises(ValueError, match="min_context"):
        draw(MaskSpec(1, 0.5), min_context=64)
