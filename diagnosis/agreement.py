"""AI against clinicians' reads, per model version: confusion matrix, sensitivity and specificity
(the clinician's read as the reference), reads over time, and the plots of the staff dashboard.

Plain computation over ``selectors.agreement_pairs`` rows; matplotlib is imported only to draw.
"""

from __future__ import annotations

import base64
import io
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from diagnosis.models import PredictionLabel, ReadChoice

READS = (ReadChoice.FRACTURE, ReadChoice.NO_FRACTURE, ReadChoice.UNCERTAIN)
LABELS = (PredictionLabel.FRACTURED, PredictionLabel.NOT_FRACTURED)


@dataclass(frozen=True)
class Rate:
    """A proportion with its Wilson 95% interval; ``value`` is None when nothing was counted."""

    hits: int
    total: int

    @property
    def value(self) -> float | None:
        return self.hits / self.total if self.total else None

    @property
    def interval(self) -> tuple[float, float] | None:
        if not self.total:
            return None
        z, n, p = 1.96, self.total, self.hits / self.total
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class VersionAgreement:
    version: str
    matrix: Counter = field(default_factory=Counter)  # (read, label) -> count
    weekly: Counter = field(default_factory=Counter)  # (monday, "agree" | "disagree" | "uncertain") -> count

    def count(self, read: str, label: str) -> int:
        return self.matrix[(read, label)]

    @property
    def rows(self) -> list[tuple[str, list[int]]]:
        return [(ReadChoice(read).label, [self.count(read, label) for label in LABELS]) for read in READS]

    @property
    def total(self) -> int:
        return sum(self.matrix.values())

    @property
    def sensitivity(self) -> Rate:
        positives = self.count(ReadChoice.FRACTURE, PredictionLabel.FRACTURED)
        return Rate(positives, positives + self.count(ReadChoice.FRACTURE, PredictionLabel.NOT_FRACTURED))

    @property
    def specificity(self) -> Rate:
        negatives = self.count(ReadChoice.NO_FRACTURE, PredictionLabel.NOT_FRACTURED)
        return Rate(negatives, negatives + self.count(ReadChoice.NO_FRACTURE, PredictionLabel.FRACTURED))

    @property
    def agreement(self) -> Rate:
        decided = self.sensitivity.total + self.specificity.total
        return Rate(self.sensitivity.hits + self.specificity.hits, decided)


def _week(day: date) -> date:
    return day - timedelta(days=day.weekday())


def agreement_by_version(pairs: Iterable[Mapping[str, Any]]) -> list[VersionAgreement]:
    """One entry per model version (newest version name first) from ``agreement_pairs`` rows."""
    versions: dict[str, VersionAgreement] = defaultdict(lambda: VersionAgreement(""))
    for pair in pairs:
        entry = versions[pair["model_version"]]
        entry.version = pair["model_version"]
        entry.matrix[(pair["read"], pair["label"])] += 1
        if pair["read"] == ReadChoice.UNCERTAIN:
            outcome = "uncertain"
        else:
            agrees = (pair["read"] == ReadChoice.FRACTURE) == (pair["label"] == PredictionLabel.FRACTURED)
            outcome = "agree" if agrees else "disagree"
        entry.weekly[(_week(pair["created_at"].date()), outcome)] += 1
    return sorted(versions.values(), key=lambda v: v.version, reverse=True)


# Plots ----------------------------------------------------------------------------------------


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def plot_matrix(entry: VersionAgreement) -> str:
    """The confusion matrix as a heat map with the counts written in (a data: URL, CSP img-src)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.2, 3.2))
    ax = figure.subplots()
    values = [[entry.count(read, label) for label in LABELS] for read in READS]
    ax.imshow(values, cmap="Blues", aspect="auto")
    for i, row in enumerate(values):
        for j, value in enumerate(row):
            ax.text(
                j,
                i,
                str(value),
                ha="center",
                va="center",
                color="#000" if value < max(map(max, values)) / 2 else "#fff",
            )
    ax.set_xticks(range(len(LABELS)), ["Fracture\nsuspected", "No fracture\nsuspected"], fontsize=8)
    ax.set_yticks(range(len(READS)), [ReadChoice(read).label for read in READS], fontsize=8)
    ax.set_xlabel("AI opinion")
    ax.set_ylabel("Clinician's read")
    return _png(figure)


def plot_weekly(entry: VersionAgreement) -> str:
    """Reads per week, stacked: agreeing, disagreeing and uncertain."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    weeks = sorted({week for week, _ in entry.weekly})
    figure = Figure(figsize=(5.6, 3.0))
    ax = figure.subplots()
    bottom = [0] * len(weeks)
    for outcome, colour in (("agree", "#1b6e3c"), ("disagree", "#b3261e"), ("uncertain", "#9aa5ae")):
        heights = [entry.weekly[(week, outcome)] for week in weeks]
        ax.bar([w.isoformat() for w in weeks], heights, bottom=bottom, color=colour, label=outcome)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_ylabel("Reads")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if len(weeks) < 4:
        ax.set_xlim(-1.5, len(weeks) + 0.5)
    ax.set_xlabel("Week starting")
    ax.legend(fontsize=8)
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    return _png(figure)
