"""Celery tasks: thin wrappers that take ids and call services (STYLE.md, tasks)."""

from __future__ import annotations

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from diagnosis import services


@shared_task(
    name="diagnosis.tasks.predict",
    acks_late=True,
    autoretry_for=services.predictions.TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=5,
)
def predict(prediction_id: int) -> None:
    """Run the model for one prediction; idempotent (a second delivery is a no-op)."""
    try:
        services.prediction_run(prediction_id=prediction_id)
    except SoftTimeLimitExceeded:
        services.prediction_fail(prediction_id=prediction_id, reason="The AI model took too long and was stopped.")


@shared_task(name="diagnosis.tasks.sweep_stale_predictions", ignore_result=True)
def sweep_stale_predictions() -> dict[str, int]:
    """Periodic (celery beat): re-send lost or unsent predictions, requeue stuck ones."""
    result = services.prediction_sweep_stale()
    return {"requeued": result.requeued, "dispatched": result.dispatched, "failed": result.failed}
