"""Shadow runs: start (audited), claim exactly once, run the candidate, fail readably.

Shadow predictions go to their own table and never touch ``diagnosis.Prediction``. The candidate
is loaded through ``inference.predictor`` (per-process cache) on the shadow worker only.
"""

from __future__ import annotations

import datetime
import logging

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from diagnosis.audit import Action, audit_record
from diagnosis.models import OperatingPoint, Radiograph
from inference.models import ModelVersion
from shadow import selectors
from shadow.comparison import label_at
from shadow.models import ShadowPrediction, ShadowRun

logger = logging.getLogger(__name__)

Status = ShadowRun.Status


def shadow_run_start(*, user: AbstractBaseUser, candidate: ModelVersion, n: int) -> ShadowRun:
    """Queue a shadow run of ``candidate`` on the last ``n`` radiographs with a finished prediction.

    Refused (``ValidationError``) for the active version or the one behind the latest predictions
    (nothing to compare) or when no radiograph has a finished prediction yet.
    """
    if candidate.version in selectors.serving_versions():
        raise ValidationError(
            {"candidate": f"{candidate.version} serves clinicians now (active, or made the latest predictions): "
             "choose another version to compare."}
        )  # fmt: skip
    with transaction.atomic():
        cutoff = selectors.latest_succeeded_prediction_id()
        if cutoff is None:
            raise ValidationError("No radiograph has a finished prediction yet: there is nothing to compare with.")
        run = ShadowRun(candidate=candidate, requested_by=user, n_requested=n, cutoff_prediction_id=cutoff)
        run.full_clean()
        run.save()
        audit_record(
            actor=user,
            action=Action.CREATE,
            obj=run,
            description=f"Started shadow run {run.pk}: {candidate.version} on the last {n} radiographs",
            kind="shadow_run",
            candidate=candidate.version,
            n_requested=n,
        )
        transaction.on_commit(lambda: shadow_run_enqueue(run_id=run.pk))
    return run


def shadow_run_enqueue(*, run_id: int) -> bool:
    """Send the run to the shadow queue; a run that cannot be sent fails at once (never left queued)."""
    from shadow.tasks import run_shadow

    try:
        run_shadow.apply_async((run_id,), queue=settings.FRACTURE_SHADOW_QUEUE)
    except (BrokerError, OSError) as exc:
        shadow_run_fail(run_id=run_id, reason=f"The task queue could not be reached ({exc}); start the run again.")
        return False
    return True


def shadow_run_claim(*, run_id: int) -> datetime.datetime | None:
    """queued -> running, exactly once: the claim's time for the one caller that changed the row."""
    now = timezone.now()
    changed = ShadowRun.objects.filter(pk=run_id, status=Status.QUEUED).update(
        status=Status.RUNNING, started_at=now, attempts=F("attempts") + 1
    )
    return now if changed == 1 else None


def shadow_run_fail(*, run_id: int, reason: str, started_at: datetime.datetime | None = None) -> bool:
    """Record a definite failure of a pending run (with ``started_at``: only of that claim)."""
    pending = ShadowRun.objects.filter(pk=run_id, status__in=(Status.QUEUED, Status.RUNNING))
    if started_at is not None:
        pending = pending.filter(started_at=started_at)
    return bool(pending.update(status=Status.FAILED, error=reason[:2000], finished_at=timezone.now()))


def shadow_run_fail_stale(*, now: datetime.datetime | None = None) -> int:
    """Runs still ``running`` past the hard time limit lost their worker: mark them failed."""
    now = now or timezone.now()
    limit = settings.FRACTURE_SHADOW_TIME_LIMIT + settings.FRACTURE_STALE_RUN_MARGIN_S
    stale = ShadowRun.objects.filter(status=Status.RUNNING, started_at__lt=now - datetime.timedelta(seconds=limit))
    return stale.update(
        status=Status.FAILED,
        error="The shadow worker stopped before the run finished; start a new run.",
        finished_at=now,
    )


class _Stopped(Exception):
    """The run is no longer this claim's to write (failed elsewhere)."""


def shadow_run_execute(*, run_id: int) -> None:
    """Claim the run and predict every selected image with the candidate; quiet if already claimed.

    Ends ``succeeded``, or ``failed`` with a readable ``error`` whatever goes wrong.
    """
    claimed_at = shadow_run_claim(run_id=run_id)
    if claimed_at is None:
        logger.info("shadow run %s already claimed or finished; nothing to do", run_id)
        return
    try:
        _execute(run_id, claimed_at)
    except _Stopped:
        logger.warning("shadow run %s was stopped elsewhere; this worker leaves it", run_id)
    except SoftTimeLimitExceeded:
        limit = settings.FRACTURE_SHADOW_SOFT_TIME_LIMIT
        reason = f"The run took longer than its time limit ({limit} s) and was stopped; try fewer radiographs."
        shadow_run_fail(run_id=run_id, reason=reason, started_at=claimed_at)
    except Exception as exc:
        logger.exception("shadow run %s failed", run_id)
        shadow_run_fail(run_id=run_id, reason=f"The run stopped on an error: {exc}", started_at=claimed_at)
    finally:
        from inference.predictor import forget_predictor

        # A candidate is loaded for its run alone: the shadow worker does not keep every version
        # it ever tried in memory (a served-size version is about 45 MB).
        forget_predictor(ShadowRun.objects.filter(pk=run_id).values_list("candidate__version", flat=True).first())


def _execute(run_id: int, claimed_at: datetime.datetime) -> None:
    from diagnosis.thumbnails import radiograph_pixels
    from inference.imaging import ImageDecodeError
    from inference.predictor import ModelUnavailable, get_predictor

    mine = ShadowRun.objects.filter(pk=run_id, status=Status.RUNNING, started_at=claimed_at)

    def update(**fields: object) -> None:
        if not mine.update(**fields):
            raise _Stopped

    run = ShadowRun.objects.select_related("candidate").get(pk=run_id)
    try:
        predictor = get_predictor(run.candidate.version)
    except ModelUnavailable as exc:
        shadow_run_fail(run_id=run_id, reason=f"The candidate model is unavailable: {exc}", started_at=claimed_at)
        return
    card = predictor.card.get("thresholds") or {}
    thresholds = {p: float(card[p]) for p in OperatingPoint.values if isinstance(card.get(p), int | float)}
    if not thresholds:
        reason = f"The candidate's model card has no threshold for any operating point ({', '.join(OperatingPoint)})."
        shadow_run_fail(run_id=run_id, reason=reason, started_at=claimed_at)
        return
    targets = selectors.shadow_targets(n=run.n_requested, cutoff_prediction_id=run.cutoff_prediction_id)
    if not targets:
        reason = "No radiograph with a finished prediction is left to run on."
        shadow_run_fail(run_id=run_id, reason=reason, started_at=claimed_at)
        return
    update(thresholds=thresholds, n_selected=len(targets), done=0)
    for radiograph_id, reference_id in targets:
        radiograph = Radiograph.objects.get(pk=radiograph_id)
        try:
            image = radiograph_pixels(radiograph)
        except (ImageDecodeError, OSError) as exc:
            reason = f"Radiograph {radiograph_id} could not be read: {exc}"
            shadow_run_fail(run_id=run_id, reason=reason, started_at=claimed_at)
            return
        result = predictor.predict_images([image])[0]
        with transaction.atomic():
            update(done=F("done") + 1)
            ShadowPrediction.objects.create(
                run_id=run_id,
                radiograph_id=radiograph_id,
                reference_id=reference_id,
                probability=result.probability,
                labels={point: label_at(result.probability, t) for point, t in thresholds.items()},
                inference_ms=result.inference_ms,
            )
    update(status=Status.SUCCEEDED, finished_at=timezone.now(), error="")
