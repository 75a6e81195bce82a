"""Predictions: enqueue, claim and run exactly once, re-run on request, recover stale rows.

The network is reached only through ``inference.predictor``, imported inside ``prediction_run``
so that web processes never import TensorFlow.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from diagnosis import selectors
from diagnosis.audit import Action, audit_record
from diagnosis.models import Prediction, Radiograph

logger = logging.getLogger(__name__)

Status = Prediction.Status
_RESULT_FIELDS = (
    "label", "probability", "threshold", "model_version", "threshold_name", "inference_ms", "status", "error",
    "finished_at", "overlay",
)  # fmt: skip
# Database hiccups worth a retry; everything else about a run is a definite outcome.
TRANSIENT_ERRORS = (OperationalError, InterfaceError)


def prediction_enqueue(*, prediction_id: int) -> bool:
    """Send ``predict(prediction_id)`` to the broker; False (logged) when the broker is down.

    Call it from ``transaction.on_commit``. A prediction that could not be sent stays ``queued``
    with no ``enqueued_at`` and ``prediction_sweep_stale`` sends it again later.
    """
    from diagnosis.tasks import predict  # the task module imports the services

    try:
        predict.delay(prediction_id)
    except (BrokerError, OSError) as exc:
        logger.warning("prediction %s left queued, broker unavailable (%s); the sweeper will retry", prediction_id, exc)
        return False
    Prediction.objects.filter(pk=prediction_id).update(enqueued_at=timezone.now())
    return True


def prediction_requeue(*, user: AbstractBaseUser, radiograph: Radiograph) -> Prediction:
    """Ask for a fresh model run on a visible radiograph; returns the pending run if one exists."""
    selectors.radiograph_get(user=user, pk=radiograph.pk)
    with transaction.atomic():
        Radiograph.objects.select_for_update().get(pk=radiograph.pk)
        pending = radiograph.predictions.filter(status__in=(Status.QUEUED, Status.RUNNING)).first()
        if pending is not None:
            return pending
        prediction = Prediction.objects.create(radiograph=radiograph)
        transaction.on_commit(lambda: prediction_enqueue(prediction_id=prediction.pk))
    return prediction


def stale_run_before(now: datetime.datetime) -> datetime.datetime:
    """A run started before this has outlived the hard time limit: its worker is gone."""
    return now - datetime.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + settings.FRACTURE_STALE_RUN_MARGIN_S)


def prediction_claim(*, prediction_id: int) -> bool:
    """queued -> running, exactly once: True only for the single caller that changed the row.

    A ``running`` row older than the hard time limit is taken over too (its worker was killed),
    so the broker's redelivery of an unacknowledged message recovers it without the sweeper;
    one that already used every attempt is left for the sweeper to mark ``failed``.
    """
    now = timezone.now()
    stale = Q(
        status=Status.RUNNING,
        started_at__lt=stale_run_before(now),
        attempts__lt=settings.FRACTURE_PREDICTION_MAX_ATTEMPTS,
    )
    changed = Prediction.objects.filter(Q(status=Status.QUEUED) | stale, pk=prediction_id).update(
        status=Status.RUNNING, started_at=now, attempts=F("attempts") + 1
    )
    return changed == 1


def prediction_fail(*, prediction_id: int, reason: str, started_at: datetime.datetime | None = None) -> bool:
    """Record a definite failure of a pending run, with a reason a clinician can read.

    With ``started_at`` only that run may fail the row: a run that was taken over leaves it alone.
    """
    pending = Prediction.objects.filter(pk=prediction_id, status__in=(Status.QUEUED, Status.RUNNING))
    if started_at is not None:
        pending = pending.filter(status=Status.RUNNING, started_at=started_at)
    with transaction.atomic():
        failed = pending.update(status=Status.FAILED, error=reason[:2000], finished_at=timezone.now())
        if failed:
            _audit_finished(Prediction.objects.select_related("radiograph__case").get(pk=prediction_id))
    return bool(failed)


def _audit_finished(prediction: Prediction) -> None:
    audit_record(
        actor=None,
        actor_name="worker",
        action=Action.PREDICTION_FINISHED,
        obj=prediction,
        status=prediction.status,
        label=prediction.label,
        model_version=prediction.model_version,
    )


def prediction_run(*, prediction_id: int) -> None:
    """Claim the prediction and run the model on its radiograph; quiet no-op if already claimed.

    Outcomes: ``succeeded`` with the result, or ``failed`` with a readable ``error`` (model
    unavailable, unreadable file). Transient database errors put the row back to ``queued`` and
    propagate, so the task retries it.
    """
    if not prediction_claim(prediction_id=prediction_id):
        logger.info("prediction %s already claimed or finished; nothing to do", prediction_id)
        return
    from diagnosis.thumbnails import radiograph_pixels
    from inference.imaging import ImageDecodeError
    from inference.predictor import ModelUnavailable, get_predictor

    try:
        prediction = Prediction.objects.select_related("radiograph__case").get(pk=prediction_id)
        claimed_at = prediction.started_at  # identifies this run: a takeover sets a newer one
        try:
            predictor = get_predictor()
        except ModelUnavailable as exc:
            reason = f"The AI model is unavailable: {exc}"
            prediction_fail(prediction_id=prediction_id, reason=reason, started_at=claimed_at)
            return
        try:
            image = radiograph_pixels(prediction.radiograph)
        except (ImageDecodeError, OSError) as exc:
            reason = f"The radiograph file could not be read: {exc}"
            prediction_fail(prediction_id=prediction_id, reason=reason, started_at=claimed_at)
            return
        try:
            result = predictor.predict_images([image])[0]
        except (ModelUnavailable, ValueError, RuntimeError) as exc:  # LiteRT and numpy raise these for a bad run
            reason = f"The AI model could not run on this image: {exc}"
            prediction_fail(prediction_id=prediction_id, reason=reason, started_at=claimed_at)
            return
        overlay_name = _store_overlay(prediction, result.activation_map, image_size=image.size, spec=predictor.spec)
        prediction.overlay.name = overlay_name
        prediction.label = result.label
        prediction.probability = result.probability
        prediction.threshold = result.threshold
        prediction.model_version = result.model_version
        prediction.threshold_name = result.threshold_name
        prediction.inference_ms = result.inference_ms
        prediction.status = Status.SUCCEEDED
        prediction.error = ""
        prediction.finished_at = timezone.now()
        stored = 0
        try:
            prediction.full_clean()
            stored = _store_result(prediction, claimed_at)
        finally:
            if not stored and overlay_name:
                prediction.overlay.storage.delete(overlay_name)  # this run's result was not kept
    except TRANSIENT_ERRORS:
        _release(prediction_id)
        raise


def _store_overlay(prediction: Prediction, cam, *, image_size: tuple[int, int], spec: dict) -> str:
    """Save the heat-map PNG of a run (before its fenced write); "" for a version without maps.

    A map that cannot be drawn costs the picture, never the prediction: it is logged and skipped.
    """
    if cam is None:
        return ""
    from inference.heatmap import overlay_png

    field = prediction.overlay.field
    try:
        data = overlay_png(cam, image_size=image_size, spec=spec)
        return field.storage.save(field.generate_filename(prediction, "overlay.png"), ContentFile(data))
    except (ValueError, OSError) as exc:
        logger.warning("prediction %s: heat map not stored: %s", prediction.pk, exc)
        return ""


def _store_result(prediction: Prediction, claimed_at: datetime.datetime) -> int:
    """Write the result fenced on this run's claim; 0 when another run took the row over."""
    prediction_id = prediction.pk
    with transaction.atomic():
        # Fenced on this run's claim: if the run outlived the time limit and was taken over, the
        # newer run owns the row and this result (heat map included) is dropped, never written twice.
        stored = Prediction.objects.filter(pk=prediction_id, status=Status.RUNNING, started_at=claimed_at).update(
            **{field: getattr(prediction, field) for field in _RESULT_FIELDS}
        )
        if not stored:
            logger.warning("prediction %s was taken over by a newer run; result dropped", prediction_id)
            return 0
        _audit_finished(prediction)
    return stored


def _release(prediction_id: int) -> None:
    """running -> queued so a retry can claim it; if the database is still down the sweeper will."""
    try:
        Prediction.objects.filter(pk=prediction_id, status=Status.RUNNING).update(status=Status.QUEUED)
    except TRANSIENT_ERRORS:
        logger.warning("prediction %s stays running until the sweeper requeues it", prediction_id)


@dataclass(frozen=True)
class SweepResult:
    requeued: int
    dispatched: int
    failed: int


def prediction_sweep_stale(*, now: datetime.datetime | None = None) -> SweepResult:
    """Recover predictions a lost message or a killed worker left behind.

    * ``running`` past the task's hard time limit (plus a margin): back to ``queued``;
    * ``queued`` never handed to the broker (older than ``FRACTURE_SWEEP_UNSENT_AFTER_S``) or
      handed over long ago (``FRACTURE_REDISPATCH_AFTER_S``): sent again (the claim makes
      duplicates harmless);
    * anything that already used ``FRACTURE_PREDICTION_MAX_ATTEMPTS`` attempts: ``failed``.
    """
    now = now or timezone.now()
    max_attempts = settings.FRACTURE_PREDICTION_MAX_ATTEMPTS
    stuck = Q(status=Status.RUNNING, started_at__lt=stale_run_before(now))
    unsent = Q(
        enqueued_at__isnull=True,
        created_at__lt=now - datetime.timedelta(seconds=settings.FRACTURE_SWEEP_UNSENT_AFTER_S),
    )
    lost = Q(enqueued_at__lt=now - datetime.timedelta(seconds=settings.FRACTURE_REDISPATCH_AFTER_S))
    exhausted = Q(attempts__gte=max_attempts) & (stuck | Q(status=Status.QUEUED) & (unsent | lost))

    # One by one through prediction_fail, so each gives-up is in the audit trail like any failure.
    exhausted_ids = list(Prediction.objects.filter(exhausted).values_list("pk", flat=True)[:500])
    reason = f"Gave up after {max_attempts} attempts."
    failed = sum(prediction_fail(prediction_id=pk, reason=reason) for pk in exhausted_ids)
    stuck_ids = list(Prediction.objects.filter(stuck).values_list("pk", flat=True)[:500])
    requeued = Prediction.objects.filter(stuck, pk__in=stuck_ids).update(
        status=Status.QUEUED, started_at=None, enqueued_at=None
    )
    due = Prediction.objects.filter(Q(status=Status.QUEUED) & (unsent | lost)).order_by("created_at")
    to_send = sorted({*stuck_ids, *due.values_list("pk", flat=True)[:500]})
    dispatched = sum(prediction_enqueue(prediction_id=pk) for pk in to_send)
    if failed or requeued or dispatched:
        logger.info("sweep: %s requeued, %s dispatched, %s failed", requeued, dispatched, failed)
    return SweepResult(requeued=requeued, dispatched=dispatched, failed=failed)
