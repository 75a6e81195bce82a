"""Calibrated probabilities: temperature or Platt scaling of the network's logit.

A score of 0.13 should mean "about 13% of such images are fractured". The networks' raw scores do
not: class and group weights, label smoothing and averaging move them. Both methods map the
logit z of a raw probability to ``sigmoid(a * z + b)``; temperature scaling fixes ``b = 0``.
Which one a version uses is chosen by cross-fitting on out-of-fold scores (fit on four folds,
score the fifth); the chosen map is stored in the card and applied inside the served network.
"""

from __future__ import annotations

import numpy as np

from inference.calibration import EPS, apply, logit

__all__ = ["METHODS", "apply", "cross_fitted", "fit", "log_loss", "logit"]

METHODS = ("temperature", "platt")


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    y = np.asarray(y, dtype=np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def fit(method: str, y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """``(a, b)`` minimising the log loss of ``sigmoid(a * logit(p) + b)``."""
    if method not in METHODS:
        raise ValueError(f"unknown calibration {method!r}; choose from {', '.join(METHODS)}")
    from scipy.optimize import minimize  # training only: serving needs ``apply`` alone

    z, y = logit(p), np.asarray(y, dtype=np.float64)

    def loss(params):
        a, b = (params[0], params[1]) if method == "platt" else (params[0], 0.0)
        s = a * z + b
        # log(1 + e^s) - y*s, computed stably
        return float(np.mean(np.logaddexp(0.0, s) - y * s))

    start = [1.0, 0.0] if method == "platt" else [1.0]
    bounds = [(1e-3, 100.0)] + ([(-50.0, 50.0)] if method == "platt" else [])
    result = minimize(loss, start, method="L-BFGS-B", bounds=bounds)
    a = float(result.x[0])
    b = float(result.x[1]) if method == "platt" else 0.0
    return a, b


def cross_fitted(method: str, y: np.ndarray, p: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Each fold's scores calibrated by a map fitted on the other folds."""
    out = np.zeros(len(p), dtype=np.float64)
    for k in np.unique(folds):
        held = folds == k
        a, b = fit(method, y[~held], p[~held])
        out[held] = apply(p[held], a, b)
    return out


def choose(y: np.ndarray, p: np.ndarray, folds: np.ndarray) -> dict:
    """The method with the lower cross-fitted log loss, fitted on everything; with the evidence."""
    evidence = {m: log_loss(y, cross_fitted(m, y, p, folds)) for m in METHODS}
    evidence["none"] = log_loss(y, p)
    method = min(METHODS, key=lambda m: evidence[m])
    a, b = fit(method, y, p)
    return {"method": method, "a": a, "b": b, "cross_fitted_log_loss": evidence}


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Mean |observed rate - mean score| over equal-width score bins, weighted by bin size."""
    y, p = np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(y[mask].mean() - p[mask].mean())
    return float(total)


def reliability_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict]:
    y, p = np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = which == b
        rows.append({
            "low": float(edges[b]), "high": float(edges[b + 1]), "n": int(mask.sum()),
            "mean_score": float(p[mask].mean()) if mask.any() else None,
            "observed": float(y[mask].mean()) if mask.any() else None,
        })  # fmt: skip
    return rows
