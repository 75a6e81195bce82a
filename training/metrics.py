"""Metrics per image and per group, with thresholds chosen on validation only.

Images in one near-duplicate family are not independent, so confidence intervals come from a
cluster bootstrap over groups: resampling single images would make the intervals far too narrow.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

BOOTSTRAP_ROUNDS = 1000
HIGH_SENSITIVITY = 0.95
THRESHOLD_RULE = (
    "chosen on validation only: balanced = max Youden J; high_sensitivity = sensitivity >= 0.95 "
    "per image and with every positive group weighted equally"
)


def auroc(y: np.ndarray, p: np.ndarray) -> float | None:
    return float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else None


def group_scores(y: np.ndarray, p: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One row per group: its label and the mean probability of its images."""
    names, inverse = np.unique(groups, return_inverse=True)
    counts = np.bincount(inverse)
    pg = np.bincount(inverse, weights=p) / counts
    yg = np.round(np.bincount(inverse, weights=y) / counts).astype(int)
    return names, yg, pg


def bootstrap_ci(
    y: np.ndarray, p: np.ndarray, clusters: np.ndarray, *, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0
) -> list[float] | None:
    """95% percentile interval of AUROC, resampling whole clusters with replacement."""
    if auroc(y, p) is None:
        return None
    rng = np.random.default_rng(seed)
    names, inverse = np.unique(clusters, return_inverse=True)
    members = [np.flatnonzero(inverse == i) for i in range(len(names))]
    values = []
    for _ in range(rounds):
        pick = rng.integers(0, len(names), len(names))
        idx = np.concatenate([members[i] for i in pick])
        value = auroc(y[idx], p[idx])
        if value is not None:
            values.append(value)
    if not values:
        return None
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]


def at_threshold(y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    pred = (p >= threshold).astype(int)
    tp = int(np.sum((pred == 1) & (y == 1)))
    tn = int(np.sum((pred == 0) & (y == 0)))
    fp = int(np.sum((pred == 1) & (y == 0)))
    fn = int(np.sum((pred == 0) & (y == 1)))
    sens = tp / (tp + fn) if tp + fn else None
    spec = tn / (tn + fp) if tn + fp else None
    prec = tp / (tp + fp) if tp + fp else None
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None
    return {
        "threshold": float(threshold),
        "sensitivity": sens,
        "specificity": spec,
        "precision": prec,
        "accuracy": (tp + tn) / len(y) if len(y) else None,
        "f1": f1,
        "confusion": {"tn": tn, "fp": fp, "fn": fn, "tp": tp},
    }


def choose_thresholds(y_val: np.ndarray, p_val: np.ndarray, groups: np.ndarray | None = None) -> dict[str, float]:
    """Balanced: maximal Youden J on validation. High sensitivity: the highest cut that keeps
    sensitivity >= 0.95 on validation counted per image and, with ``groups``, also with every
    positive group weighted equally.

    Counted per image alone, a large rotated family decides the cut: 0.95 of the positive images
    can be one family's copies while a few small groups fall below it, and such a cut keeps far
    less than 0.95 of the positives of unseen groups (measured on validation by choosing the cut
    on half of its groups and scoring the other half: training/EXPERIMENTS.md).

    Each cut is placed halfway between the validation score it admits and the next lower one: it
    classifies validation exactly as a cut at that score would, but a score that sits exactly on
    the cut (the ROC's cuts are scores) no longer flips when another runtime computes it a few
    ulps lower (LiteRT against Keras did, for one validation image).
    """
    y_val, p_val = np.asarray(y_val).astype(int), np.asarray(p_val, dtype=np.float64)
    fpr, tpr, cuts = roc_curve(y_val, p_val)
    cuts = np.clip(cuts, 0.0, 1.0)  # sklearn's first cut is +inf
    balanced = _between_scores(float(cuts[int(np.argmax(tpr - fpr))]), p_val)
    high = _sensitivity_cut(p_val[y_val == 1], np.ones(int(np.sum(y_val == 1))))
    if groups is not None:
        _, inverse, counts = np.unique(np.asarray(groups)[y_val == 1], return_inverse=True, return_counts=True)
        high = min(high, _sensitivity_cut(p_val[y_val == 1], 1.0 / counts[inverse]))
    high = _between_scores(high, p_val) if high > 0 else 0.0
    return {"balanced": balanced, "high_sensitivity": min(high, balanced)}


def _sensitivity_cut(positive_scores: np.ndarray, weights: np.ndarray, target: float = HIGH_SENSITIVITY) -> float:
    """The highest score s such that positives scoring >= s carry at least ``target`` of the weight."""
    if not len(positive_scores):
        return 0.0
    order = np.argsort(-positive_scores, kind="stable")
    kept = np.cumsum(weights[order]) / np.sum(weights)
    return float(positive_scores[order][int(np.searchsorted(kept, target - 1e-9))])


def _between_scores(cut: float, scores: np.ndarray) -> float:
    lower = np.asarray(scores, dtype=np.float64)
    lower = lower[lower < cut]
    return (cut + float(lower.max())) / 2 if len(lower) else cut / 2


def _block(y: np.ndarray, p: np.ndarray, clusters: np.ndarray, thresholds: dict[str, float]) -> dict:
    return {
        "n": len(y),
        "positives": int(np.sum(y)),
        "auroc": auroc(y, p),
        "auroc_ci95": bootstrap_ci(y, p, clusters),
        "at_threshold": {name: at_threshold(y, p, t) for name, t in thresholds.items()},
    }


def evaluate_predictions(
    y: np.ndarray, p: np.ndarray, groups: np.ndarray, rotated: np.ndarray, thresholds: dict[str, float]
) -> dict:
    """Everything the card and reports show, per image, per group and per image kind."""
    y, p = np.asarray(y).astype(int), np.asarray(p, dtype=np.float64)
    image = _block(y, p, groups, thresholds)
    names, yg, pg = group_scores(y, p, groups)
    group = _block(yg, pg, names, thresholds)
    subsets = {}
    for name, mask in (("rotated_family", rotated), ("other", ~rotated)):
        if mask.any():
            block = _block(y[mask], p[mask], groups[mask], thresholds)
            subsets[name] = {k: block[k] for k in ("n", "positives", "auroc", "auroc_ci95")}
    return {
        "n_images": image["n"],
        "n_groups": group["n"],
        "auroc": image["auroc"],
        "auroc_ci95": image["auroc_ci95"],
        "group_auroc": group["auroc"],
        "group_auroc_ci95": group["auroc_ci95"],
        "per_image": image,
        "per_group": group,
        "subsets": subsets,
    }


def summary_line(m: dict) -> str:
    def fmt(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.3f}"

    def ci(v: list | None) -> str:
        return "" if not v else f" [{v[0]:.3f}, {v[1]:.3f}]"

    hs = m["per_image"]["at_threshold"].get("high_sensitivity", {})
    bal = m["per_image"]["at_threshold"].get("balanced", {})
    return (
        f"AUROC image {fmt(m['auroc'])}{ci(m['auroc_ci95'])}, "
        f"group {fmt(m['group_auroc'])}{ci(m['group_auroc_ci95'])}; "
        f"balanced sens {fmt(bal.get('sensitivity'))} spec {fmt(bal.get('specificity'))}; "
        f"high-sens sens {fmt(hs.get('sensitivity'))} spec {fmt(hs.get('specificity'))}"
    )
