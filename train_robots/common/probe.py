"""Linear probe: how much of the true state a latent carries, as held-out R² per quantity.

Ridge regression from latents to the state vector, in closed form. Features are standardised
with the training rows' statistics; each quantity gets its own regularisation, chosen on a
validation split of the training episodes (by episode, never by step: neighbouring steps are
near copies); the chosen model is refitted on every training episode and scored on held-out
episodes the fit never saw. R² = 1 - SSE / SST, SST around the held-out mean, so predicting a
constant scores <= 0 and a perfect read-out 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Regularisation candidates, in units of the number of fitting rows (standardised features
# make X^T X's diagonal about that size).
ALPHAS = np.logspace(-6, 1, 15)


@dataclass
class ProbeResult:
    r2: dict[str, float]
    """Held-out R² per quantity."""
    alpha: dict[str, float] = field(default_factory=dict)
    """Ridge: the chosen regularisation per quantity (units of fitting rows)."""
    predicted: np.ndarray | None = None
    """The read-out's predictions on the held-out rows [N_test, Q], in row order (to score a subset)."""


def _standardise(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return (x - mean) / std


def _eig(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values, vectors = np.linalg.eigh(x.T @ x)
    return np.clip(values, 0.0, None), vectors


def _predict(x_fit, y_fit, x_eval, lams: np.ndarray) -> np.ndarray:
    """Ridge predictions on x_eval for each regularisation: [len(lams), N_eval, Q]."""
    values, vectors = _eig(x_fit)
    projected = vectors.T @ (x_fit.T @ y_fit)  # [D, Q]
    eval_basis = x_eval @ vectors  # [N_eval, D]
    return np.stack([eval_basis @ (projected / (values + lam)[:, None]) for lam in lams])


def r2_scores(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """R² per column."""
    sse = ((y_true - y_pred) ** 2).sum(axis=0)
    sst = ((y_true - y_true.mean(axis=0)) ** 2).sum(axis=0)
    return 1.0 - sse / np.maximum(sst, 1e-12)


def split_rows(
    latents: np.ndarray,
    states: np.ndarray,
    episode: np.ndarray,
    test_episodes: np.ndarray,
    names: list[str],
    val_fraction: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boolean row masks (fit, validation, held out): held out are the rows of `test_episodes`,
    validation a seeded `val_fraction` of the other episodes (whole episodes), fit the rest."""
    if latents.shape[0] != states.shape[0] or states.shape[1] != len(names):
        raise ValueError(f"probe: {latents.shape[0]} latents, {states.shape} states, {len(names)} names")
    test = np.isin(episode, test_episodes)
    if test.all() or not test.any():
        raise ValueError("probe: needs both training and held-out episodes")
    train_eps = np.unique(episode[~test])
    val_eps = np.random.default_rng(seed).choice(
        train_eps, size=max(1, round(val_fraction * len(train_eps))), replace=False
    )
    val = np.isin(episode, val_eps) & ~test
    return ~test & ~val, val, test


def ridge_probe(
    latents: np.ndarray,
    states: np.ndarray,
    episode: np.ndarray,
    test_episodes: np.ndarray,
    names: list[str],
    val_fraction: float = 0.2,
    seed: int = 0,
) -> ProbeResult:
    """Held-out R² per state quantity of a ridge read-out of `latents`.

    latents [N, D], states [N, Q] (one row per clip), episode [N] the episode each row came
    from; rows of `test_episodes` are held out, the rest fit the probe.
    """
    fit, val, test = split_rows(latents, states, episode, test_episodes, names, val_fraction, seed)
    x = latents.astype(np.float64)
    y = states.astype(np.float64)

    alpha = _choose_alpha(x[fit], y[fit], x[val], y[val])
    mean, std = x[~test].mean(0), x[~test].std(0) + 1e-8
    x_train, x_test = _standardise(x[~test], mean, std), _standardise(x[test], mean, std)
    y_mean = y[~test].mean(0)
    lams = alpha * x_train.shape[0]
    preds = _predict(x_train, y[~test] - y_mean, x_test, np.unique(lams))
    columns = [preds[np.searchsorted(np.unique(lams), lam), :, q] for q, lam in enumerate(lams)]
    predicted = np.stack(columns, axis=1) + y_mean
    r2 = r2_scores(y[test], predicted)
    return ProbeResult(
        r2={n: float(v) for n, v in zip(names, r2)},
        alpha={n: float(a) for n, a in zip(names, alpha)},
        predicted=predicted,
    )


def _choose_alpha(x_fit, y_fit, x_val, y_val) -> np.ndarray:
    """Per quantity, the regularisation with the best R² on the validation rows."""
    mean, std = x_fit.mean(0), x_fit.std(0) + 1e-8
    x_fit, x_val = _standardise(x_fit, mean, std), _standardise(x_val, mean, std)
    y_mean = y_fit.mean(0)
    preds = _predict(x_fit, y_fit - y_mean, x_val, ALPHAS * x_fit.shape[0])
    scores = np.stack([r2_scores(y_val, p + y_mean) for p in preds])  # [alphas, Q]
    return ALPHAS[np.argmax(scores, axis=0)]
