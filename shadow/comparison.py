"""A shadow run's candidate against the stored predictions of the same images.

Plain computation over ``selectors.comparison_rows``: AUROC against the clinicians' latest reads
(fracture = 1, no fracture = 0, uncertain left out), sensitivity and specificity with Wilson 95%
intervals at each operating point, and how many badges would flip. numpy only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from diagnosis.agreement import Rate
from diagnosis.models import OperatingPoint, PredictionLabel, ReadChoice

FRACTURED = PredictionLabel.FRACTURED
NOT_FRACTURED = PredictionLabel.NOT_FRACTURED
TRUTH = {ReadChoice.FRACTURE: 1, ReadChoice.NO_FRACTURE: 0}


def auroc(scores: Sequence[float], truth: Sequence[int]) -> float | None:
    """Area under the ROC curve by the Mann-Whitney statistic (ties count one half); None
    without at least one positive and one negative."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(truth, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if not n_pos or not n_neg:
        return None
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    # Average rank (1-based) of each distinct score, shared by its ties.
    upper = np.cumsum(counts)
    ranks = (upper - (counts - 1) / 2.0)[inverse]
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def label_at(probability: float, threshold: float) -> str:
    return FRACTURED if probability >= threshold else NOT_FRACTURED


@dataclass(frozen=True)
class PointFigures:
    """One model at one operating point, against the reads."""

    threshold: float | None
    sensitivity: Rate
    specificity: Rate


@dataclass
class PointComparison:
    point: str
    candidate: PointFigures
    reference: PointFigures
    flips: int = 0  # images whose badge the candidate would change at this point
    to_fractured: int = 0
    to_not_fractured: int = 0
    by_team: Counter = field(default_factory=Counter)  # team name -> flips

    @property
    def label(self) -> str:
        return OperatingPoint(self.point).label

    @property
    def rows(self) -> list[tuple[str, PointFigures]]:
        return [("candidate", self.candidate), ("stored predictions", self.reference)]


@dataclass
class Comparison:
    images: int
    reference_versions: list[tuple[str, int]]  # (version, images) of the stored predictions
    with_read: int  # fracture or no fracture
    positives: int
    negatives: int
    uncertain: int  # read "uncertain": left out of every figure against reads
    unread: int
    candidate_auroc: float | None
    reference_auroc: float | None
    points: list[PointComparison]
    teams: list[str]

    def team_flips(self) -> list[tuple[str, list[int]]]:
        """Per team, the flips at each operating point (in ``points`` order)."""
        return [(team, [p.by_team[team] for p in self.points]) for team in self.teams]


def _rates(labels: Iterable[str | None], truth: Iterable[int | None]) -> tuple[Rate, Rate]:
    tp = fn = tn = fp = 0
    for label, y in zip(labels, truth, strict=True):
        if y is None or label is None:
            continue
        if y == 1:
            tp, fn = tp + (label == FRACTURED), fn + (label != FRACTURED)
        else:
            tn, fp = tn + (label == NOT_FRACTURED), fp + (label == FRACTURED)
    return Rate(tp, tp + fn), Rate(tn, tn + fp)


def _reference_threshold(row: Mapping[str, Any], point: str, cards: Mapping[str, Mapping[str, float]]) -> float:
    """The stored prediction's threshold at a point: its version's card threshold there, else the
    threshold it was stored with (as the clinical pages do for an unregistered version)."""
    return cards.get(row["reference_version"], {}).get(point, row["reference_threshold"])


def compare(
    rows: Sequence[Mapping[str, Any]],
    *,
    candidate_thresholds: Mapping[str, float],
    reference_cards: Mapping[str, Mapping[str, float]],
) -> Comparison:
    """Figures from ``selectors.comparison_rows`` rows and the versions' card thresholds."""
    truth = [TRUTH.get(row["read"]) for row in rows]
    judged = [i for i, y in enumerate(truth) if y is not None]
    judged_truth = [truth[i] for i in judged]
    points = []
    for point in OperatingPoint.values:
        if point not in candidate_thresholds:
            continue
        candidate_labels = [row["labels"].get(point) for row in rows]
        reference_thresholds = [_reference_threshold(row, point, reference_cards) for row in rows]
        reference_labels = [
            label_at(row["reference_probability"], t) for row, t in zip(rows, reference_thresholds, strict=True)
        ]
        distinct = set(reference_thresholds)
        entry = PointComparison(
            point=point,
            candidate=PointFigures(candidate_thresholds[point], *_rates(candidate_labels, truth)),
            reference=PointFigures(
                distinct.pop() if len(distinct) == 1 else None,  # None: the stored ones differ
                *_rates(reference_labels, truth),
            ),
        )
        for row, new, old in zip(rows, candidate_labels, reference_labels, strict=True):
            if new is not None and new != old:
                entry.flips += 1
                entry.to_fractured += new == FRACTURED
                entry.to_not_fractured += new == NOT_FRACTURED
                entry.by_team[row["team"]] += 1
        points.append(entry)
    versions = Counter(row["reference_version"] for row in rows)
    return Comparison(
        images=len(rows),
        reference_versions=sorted(versions.items()),
        with_read=len(judged),
        positives=sum(judged_truth),
        negatives=len(judged_truth) - sum(judged_truth),
        uncertain=sum(row["read"] == ReadChoice.UNCERTAIN for row in rows),
        unread=sum(row["read"] is None for row in rows),
        candidate_auroc=auroc([rows[i]["probability"] for i in judged], judged_truth),
        reference_auroc=auroc([rows[i]["reference_probability"] for i in judged], judged_truth),
        points=points,
        teams=sorted({row["team"] for row in rows}),
    )
