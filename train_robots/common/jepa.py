"""The V-JEPA objective on a `transformers.VJEPA2Model`: a context encoder that sees only the
context tokens, an EMA target encoder that sees the whole clip, and the model's own predictor
filling the target positions; L1 loss on the predicted tokens.

`VJEPA2Model.forward` runs its encoder on every token and gathers the context afterwards, so
its "context" features have already attended to the targets. Here the context is gathered
right after the patch embedding and the transformer layers run on those tokens alone; each
layer's `position_mask` carries the tokens' true grid indices, which drive the RoPE
positions, so a token keeps its place in the clip.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn


def gather_tokens(tokens: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """tokens [B, N, D], index long [B, K] -> [B, K, D]."""
    return torch.gather(tokens, 1, index.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))


def encode_context(encoder: nn.Module, pixels: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
    """Features [B, Kc, D] of the context tokens, computed from those tokens alone.

    `encoder` is a `VJEPA2Model.encoder`; pixels [B, T, C, H, W]; context long [B, Kc].
    """
    hidden = gather_tokens(encoder.embeddings(pixels), context)
    for layer in encoder.layer:
        hidden = layer(hidden, context)[0]
    return encoder.layernorm(hidden)


@torch.no_grad()
def encode_targets(target_encoder: nn.Module, pixels: torch.Tensor) -> torch.Tensor:
    """The target encoder's features of every token [B, N, D], layer-normed as in V-JEPA."""
    hidden = target_encoder(pixel_values_videos=pixels).last_hidden_state
    return F.layer_norm(hidden.float(), hidden.shape[-1:])


def predict_targets(
    predictor: nn.Module, context_features: torch.Tensor, context: torch.Tensor, target: torch.Tensor, tokens: int
) -> torch.Tensor:
    """The model's own predictor: context features -> predictions [B, Kt, D] at the target tokens.

    `VJEPA2Predictor` gathers the context from a full-length sequence itself, so the context
    features are scattered back to their places first (the other places are never read).
    """
    batch, _, dim = context_features.shape
    full = context_features.new_zeros(batch, tokens, dim)
    full = full.scatter(1, context.unsqueeze(-1).expand(-1, -1, dim), context_features)
    return predictor(encoder_hidden_states=full, context_mask=[context], target_mask=[target]).last_hidden_state


def jepa_loss(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean absolute error between predicted and target features (V-JEPA's L1)."""
    return (predictions.float() - targets.float()).abs().mean()


def clip_spread_loss(features: torch.Tensor, floor: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(variance, covariance) terms of VICReg on per-clip features [B, D] (the mean of a clip's
    context tokens): each dimension's std across the clips hinged at `floor`, and the squared
    off-diagonal covariances, so that the clip-level features vary, and not all along one axis.

    On reacher the V-JEPA loss alone is met by predicting the static arena: the sparse arm and
    target (6 of 64 tokens) are erased from the features and the clip-level std halves while the
    per-token std looks healthy. Only what differs between clips can keep this term low."""
    x = features.float() - features.float().mean(0)
    std = (x.pow(2).mean(0) + 1e-4).sqrt()
    variance = F.relu(floor - std).mean()
    cov = (x.T @ x) / max(len(x) - 1, 1)
    off_diagonal = cov - torch.diag(torch.diagonal(cov))
    return variance, off_diagonal.pow(2).sum() / x.shape[1]


class JEPA(nn.Module):
    """A `VJEPA2Model` (context encoder + predictor, trained) and an EMA copy of its encoder.

    `spread` = (variance weight, covariance weight, std floor) adds `clip_spread_loss` on the
    context features (0 weights: V-JEPA as published)."""

    def __init__(self, model: nn.Module, spread: tuple[float, float, float] = (0.0, 0.0, 0.0)):
        super().__init__()
        self.model = model
        self.target_encoder = copy.deepcopy(model.encoder).requires_grad_(False)
        self.spread = spread

    @property
    def tokens_per_clip(self) -> int:
        config = self.model.config
        return (config.frames_per_clip // config.tubelet_size) * (config.crop_size // config.patch_size) ** 2

    def forward(
        self, pixels: torch.Tensor, context: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(L1 loss, the layer-normed target features [B, N, D] for monitoring)."""
        targets = encode_targets(self.target_encoder, pixels)
        features = encode_context(self.model.encoder, pixels, context)
        predictions = predict_targets(self.model.predictor, features, context, target, targets.shape[1])
        loss = jepa_loss(predictions, gather_tokens(targets, target))
        var_weight, cov_weight, floor = self.spread
        if var_weight or cov_weight:
            variance, covariance = clip_spread_loss(features.mean(1), floor)
            loss = loss + var_weight * variance + cov_weight * covariance
        return loss, targets

    @torch.no_grad()
    def update_target(self, momentum: float) -> None:
        """target <- momentum * target + (1 - momentum) * context encoder."""
        ema_update(self.target_encoder, self.model.encoder, momentum)


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """Exponential moving average of `online`'s parameters into `target`'s, in place."""
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"EMA momentum must lie in [0, 1], got {momentum}")
    target_params = list(target.parameters())
    online_params = list(online.parameters())
    torch._foreach_mul_(target_params, momentum)
    torch._foreach_add_(target_params, online_params, alpha=1.0 - momentum)
