"""Grouped k-fold cross-validation over train + val: folds, pooled data and out-of-fold scores.

Validation alone (41 groups) cannot rank training runs whose test scores differ by 0.2: every
decision about a recipe, and the thresholds and calibration of the shipped model, come from
out-of-fold predictions of all train + val groups instead. A fold holds whole near-duplicate
families (the manifest's groups, not only one label of them), and folds are stratified by class
and image kind (rotated copies or other), so each fold sees both classes of both kinds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from training.dataset import SplitData
from training.metrics import auroc, bootstrap_ci, group_scores

FOLDS = 5


def pooled(data: dict[str, SplitData], names: tuple[str, ...] = ("train", "val")) -> SplitData:
    """Several splits as one (files concatenated in order)."""
    parts = [data[n] for n in names]
    files = [f for d in parts for f in d.files]
    x = np.concatenate([d.x for d in parts]) if parts else np.zeros((0,))
    skipped = [s for d in parts for s in d.skipped]
    return SplitData("+".join(names), files, x, skipped)


def fold_ids(pool: SplitData, k: int = FOLDS, seed: int = 0) -> np.ndarray:
    """Fold index per image: whole families per fold, stratified by class x kind."""
    families = np.array([f.group for f in pool.files])
    strata = pool.y * 2 + pool.rotated.astype(int)
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    folds = np.full(len(pool.files), -1, dtype=int)
    for index, (_, held_out) in enumerate(splitter.split(np.zeros(len(folds)), strata, families)):
        folds[held_out] = index
    return folds


@dataclass(frozen=True)
class Subset:
    """Rows of a pooled split (a fold's training or held-out part)."""

    rows: np.ndarray
    x: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    rotated: np.ndarray


def subset(pool: SplitData, rows: np.ndarray) -> Subset:
    return Subset(rows, pool.x[rows], pool.y[rows], pool.groups[rows], pool.rotated[rows])


def oof_scores(y: np.ndarray, p: np.ndarray, groups: np.ndarray, rotated: np.ndarray) -> dict:
    """The selection score and its parts for pooled out-of-fold probabilities."""
    y = np.asarray(y).astype(int)
    image = auroc(y, p)
    names, yg, pg = group_scores(y, p, groups)
    group = auroc(yg, pg)
    out = {
        "auroc": image,
        "auroc_ci95": bootstrap_ci(y, p, groups),
        "group_auroc": group,
        "group_auroc_ci95": bootstrap_ci(yg, pg, names),
        "score": (image + group) / 2 if image is not None and group is not None else None,
    }
    for name, mask in (("rotated_family", rotated), ("other", ~rotated)):
        out[f"{name}_auroc"] = auroc(y[mask], p[mask]) if mask.any() else None
    return out
