"""Reads for shadow runs. Staff-only (the admin checks permissions); results are figures, never
shown as clinical results, so the selection spans every team."""

from __future__ import annotations

from typing import Any

from django.db.models import F, OuterRef, QuerySet, Subquery

from diagnosis.models import Prediction, Radiograph, Review
from inference.models import ModelVersion
from inference.selectors import activation_current
from shadow.models import ShadowPrediction, ShadowRun

_NEWEST = ("-created_at", "-id")


def _succeeded() -> QuerySet[Prediction]:
    return Prediction.objects.filter(status=Prediction.Status.SUCCEEDED)


def latest_prediction_version() -> str | None:
    """The version that made the most recent stored prediction (what clinicians see now)."""
    return _succeeded().order_by("-finished_at", "-id").values_list("model_version", flat=True).first()


def latest_succeeded_prediction_id() -> int | None:
    return _succeeded().order_by("-id").values_list("id", flat=True).first()


def serving_versions() -> set[str]:
    """What clinicians are given now: the activated version and the one behind the latest
    predictions (they differ for a short while after an activation)."""
    active = activation_current()
    names = {active.version.version if active else None, latest_prediction_version()}
    return {name for name in names if name}


def candidate_versions() -> QuerySet[ModelVersion]:
    """Registered versions a shadow run may try: all but the ones serving clinicians now."""
    return ModelVersion.objects.exclude(version__in=serving_versions()).order_by("-created_at", "version")


def shadow_targets(*, n: int, cutoff_prediction_id: int | None) -> list[tuple[int, int]]:
    """``(radiograph id, reference prediction id)`` of the last ``n`` radiographs (newest upload
    first) with a succeeded prediction no newer than the cutoff; the reference is the newest such one."""
    if cutoff_prediction_id is None:
        return []
    newest = _succeeded().filter(radiograph=OuterRef("pk"), pk__lte=cutoff_prediction_id).order_by(*_NEWEST)
    radiographs = (
        Radiograph.objects.annotate(reference_id=Subquery(newest.values("pk")[:1]))
        .filter(reference_id__isnull=False)
        .order_by("-uploaded_at", "-id")
    )
    return list(radiographs.values_list("pk", "reference_id")[:n])


def shadow_run_list() -> QuerySet[ShadowRun]:
    return ShadowRun.objects.select_related("candidate", "requested_by").order_by(*_NEWEST)


def comparison_rows(*, run: ShadowRun) -> list[dict[str, Any]]:
    """Per image of the run: the candidate's and the stored prediction's figures, the team, and the
    latest clinician read of the image (any of its predictions), or None. No patient data."""
    latest_read = Review.objects.filter(prediction__radiograph=OuterRef("radiograph")).order_by(*_NEWEST)
    rows = ShadowPrediction.objects.filter(run=run).annotate(
        read=Subquery(latest_read.values("read")[:1]),
        team=F("radiograph__case__team__name"),
        reference_probability=F("reference__probability"),
        reference_threshold=F("reference__threshold"),
        reference_version=F("reference__model_version"),
    )
    return list(
        rows.order_by("pk").values(
            "probability",
            "labels",
            "read",
            "team",
            "reference_probability",
            "reference_threshold",
            "reference_version",
        )
    )


def version_thresholds(*, versions: set[str]) -> dict[str, dict[str, float]]:
    """The card thresholds of registered versions, per version and operating point."""
    out: dict[str, dict[str, float]] = {}
    for version, card in ModelVersion.objects.filter(version__in=versions).values_list("version", "card"):
        thresholds = (card or {}).get("thresholds") or {}
        out[version] = {name: float(v) for name, v in thresholds.items() if isinstance(v, int | float)}
    return out
