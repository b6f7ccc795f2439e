"""The V-JEPA objective: context-only encoding, the model's own predictor, L1, EMA, schedules."""

import copy
import math

import numpy as np
import pytest
import torch
from transformers import VJEPA2Model

from train_robots.common.jepa import JEPA, ema_update, encode_context, gather_tokens, jepa_loss, predict_targets
from train_robots.common.masks import Grid, MaskSpec, sample_masks
from train_robots.common.schedules import ema_momentum, warmup_cosine
from train_robots.common.task_encoder import task_encoder_config

SIZE, PATCH = 32, 8
SIDE = SIZE // PATCH


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return VJEPA2Model(task_encoder_config(SIZE, PATCH, 32, 2, 2, 16, 1, 2)).eval()


@pytest.fixture(scope="module")
def masks():
    return sample_masks(MaskSpec(2, 0.3), Grid(1, SIDE, SIDE), 2, 4, np.random.default_rng(0))


def pixels(seed=0):
    return torch.randn(2, 2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))


def repaint(clips: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """New random pixels under the given tokens (per sample), in both frames of the tubelet."""
    out = clips.clone()
    for b, sample in enumerate(tokens):
        for token in sample.tolist():
            row, col = divmod(token % (SIDE * SIDE), SIDE)
            out[b, :, :, row * PATCH : (row + 1) * PATCH, col * PATCH : (col + 1) * PATCH] = torch.randn(
                2, 3, PATCH, PATCH
            )
    return out


@torch.no_grad()
def test_context_features_ignore_the_pixels_under_the_targets(model, masks):
    before, after = pixels(), repaint(pixels(), masks.target)
    ours = [encode_context(model.encoder, x, masks.context) for x in (before, after)]
    assert torch.allclose(ours[0], ours[1], atol=1e-6)
    # the contrast: VJEPA2Model.forward's context features attended to the target tokens
    stock = [
        model(x, context_mask=[masks.context], target_mask=[masks.target]).masked_hidden_state for x in (before, after)
    ]
    assert (stock[0] - stock[1]).abs().max() > 1e-3
    # and ours do see the context's own pixels
    moved = encode_context(model.encoder, repaint(before, masks.context[:, :1]), masks.context)
    assert (moved - ours[0]).abs().max() > 1e-3


@torch.no_grad()
def test_context_tokens_keep_their_true_positions(model, masks):
    x = pixels()
    everything = torch.arange(SIDE * SIDE).expand(2, -1)
    full = model(x, skip_predictor=True).last_hidden_state
    assert torch.allclose(encode_context(model.encoder, x, everything), full, atol=1e-5)
    # RoPE reads the indices, not the order: shuffled tokens give the same features, shuffled
    order = torch.randperm(masks.context.shape[1], generator=torch.Generator().manual_seed(1))
    shuffled = encode_context(model.encoder, x, masks.context[:, order])
    assert torch.allclose(shuffled, encode_context(model.encoder, x, masks.context)[:, order], atol=1e-5)
    # while running the same tokens at positions 0..K-1 would change them
    tokens = gather_tokens(model.encoder.embeddings(x), masks.context)
    for layer in model.encoder.layer:
        tokens = layer(tokens, None)[0]
    # (a random-init model attends almost uniformly, so positions move its features only a little)
    assert (model.encoder.layernorm(tokens) - encode_context(model.encoder, x, masks.context)).abs().max() > 1e-4


@torch.no_grad()
def test_predictor_call_matches_the_models_own_forward(model, masks):
    x = pixels()
    stock = model(x, context_mask=[masks.context], target_mask=[masks.target])
    context = gather_tokens(stock.last_hidden_state, masks.context)
    ours = predict_targets(model.predictor, context, masks.context, masks.target, SIDE * SIDE)
    assert ours.shape == (2, masks.target.shape[1], 32)
    assert torch.allclose(ours, stock.predictor_output.last_hidden_state, atol=1e-5)


def test_loss_is_l1_and_only_the_context_encoder_and_predictor_learn(model, masks):
    assert jepa_loss(torch.tensor([[1.0, -1.0]]), torch.tensor([[0.0, 1.0]])).item() == pytest.approx(1.5)
    jepa = JEPA(VJEPA2Model(model.config))
    loss, targets = jepa(pixels(), masks.context, masks.target)
    assert targets.shape == (2, SIDE * SIDE, 32) and loss.item() > 0
    # the targets are layer-normed features: zero mean, unit variance per token
    assert torch.allclose(targets.mean(-1), torch.zeros(2, SIDE * SIDE), atol=1e-4)
    loss.backward()
    assert all(p.grad is None for p in jepa.target_encoder.parameters())
    assert jepa.model.encoder.layer[0].attention.query.weight.grad.abs().sum() > 0
    assert jepa.model.predictor.proj.weight.grad.abs().sum() > 0


def test_ema_update_math():
    target, online = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    t0, o0 = target.weight.detach().clone(), online.weight.detach().clone()
    ema_update(target, online, 0.9)
    assert torch.allclose(target.weight, 0.9 * t0 + 0.1 * o0)
    ema_update(target, online, 1.0)
    assert torch.allclose(target.weight, 0.9 * t0 + 0.1 * o0)  # momentum 1 freezes the target
    ema_update(target, online, 0.0)
    assert torch.equal(target.weight, online.weight)  # momentum 0 copies
    with pytest.raises(ValueError):
        ema_update(target, online, 1.5)


def test_jepa_target_starts_as_a_copy_and_follows_by_ema(model):
    jepa = JEPA(VJEPA2Model(model.config))
    online = jepa.model.encoder.layer[0].mlp.fc1.weight
    target = jepa.target_encoder.layer[0].mlp.fc1.weight
    assert torch.equal(online, target) and online.data_ptr() != target.data_ptr()
    with torch.no_grad():
        online.add_(1.0)
    jepa.update_target(0.75)
    assert torch.allclose(target, online - 0.75)


def test_schedules():
    lr = [warmup_cosine(s, 100, 10, 1.0, 0.1, 0.01) for s in range(101)]
    assert lr[0] == pytest.approx(0.1) and lr[10] == pytest.approx(1.0) and lr[100] == pytest.approx(0.01)
    assert all(a < b for a, b in zip(lr[:10], lr[1:11])) and all(a >= b for a, b in zip(lr[10:], lr[11:]))
    assert lr[55] == pytest.approx(0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    m = [ema_momentum(s, 100, 0.996, 1.0) for s in range(101)]
    assert m[0] == 0.996 and m[100] == pytest.approx(1.0) and all(a <= b for a, b in zip(m, m[1:]))


def test_clip_spread_loss_is_low_only_for_varied_decorrelated_features():
    from train_robots.common.jepa import clip_spread_loss

    g = torch.Generator().manual_seed(0)
    same = torch.randn(1, 16, generator=g).repeat(64, 1)  # every clip alike: the erased arm
    varied = torch.randn(64, 16, generator=g)
    along_one_axis = torch.randn(64, 1, generator=g) * torch.ones(1, 16)
    var_same, _ = clip_spread_loss(same, floor=0.5)
    var_varied, cov_varied = clip_spread_loss(varied, floor=0.5)
    _, cov_axis = clip_spread_loss(along_one_axis, floor=0.5)
    assert var_same > 0.45 and var_varied < 0.05
    assert cov_axis > 10 * cov_varied


def test_spread_terms_join_the_loss_only_when_weighted(model, masks):
    from train_robots.common.jepa import clip_spread_loss, encode_context

    context, target = masks.context, masks.target
    torch.manual_seed(0)
    plain = JEPA(VJEPA2Model(model.config))
    spread = JEPA(copy.deepcopy(plain.model), spread=(2.0, 0.5, 1.0))
    x = pixels()
    base, _ = plain(x, context, target)
    both, _ = spread(x, context, target)
    with torch.no_grad():
        variance, covariance = clip_spread_loss(encode_context(plain.model.encoder, x, context).mean(1), 1.0)
    torch.testing.assert_close(both, base + 2.0 * variance + 0.5 * covariance)
    assert variance > 0
