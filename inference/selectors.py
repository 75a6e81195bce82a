"""Reads about model versions for the admin: activation history and periods of service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from inference.models import ModelActivation, ModelVersion


@dataclass(frozen=True)
class ActivePeriod:
    start: datetime
    end: datetime | None  # None: still active


def activation_periods(*, version: ModelVersion) -> list[ActivePeriod]:
    """When ``version`` was the activated one, oldest first (each activation lasts until the next)."""
    periods: list[ActivePeriod] = []
    start = None
    for version_id, at in ModelActivation.objects.order_by("pk").values_list("version_id", "activated_at"):
        if start is not None and version_id != version.pk:
            periods.append(ActivePeriod(start, at))
            start = None
        elif start is None and version_id == version.pk:
            start = at
    if start is not None:
        periods.append(ActivePeriod(start, None))
    return periods


def activation_current() -> ModelActivation | None:
    return ModelActivation.objects.newest()
