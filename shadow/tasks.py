"""Celery tasks for shadow runs: thin, taking ids. They run on their own queue
(``FRACTURE_SHADOW_QUEUE``) and worker, so a long run never delays clinical predictions."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from shadow import services


@shared_task(
    name="shadow.tasks.run_shadow",
    # Not acks_late: a run outlives the broker's visibility timeout, and a lost one is marked
    # failed (``fail_stale_shadow_runs``) for the administrator to start again.
    acks_late=False,
    soft_time_limit=settings.FRACTURE_SHADOW_SOFT_TIME_LIMIT,
    time_limit=settings.FRACTURE_SHADOW_TIME_LIMIT,
)
def run_shadow(run_id: int) -> None:
    """Run one shadow run; idempotent (a second delivery finds it claimed and does nothing)."""
    services.shadow_run_execute(run_id=run_id)


@shared_task(name="shadow.tasks.fail_stale_shadow_runs", ignore_result=True)
def fail_stale_shadow_runs() -> int:
    """Periodic (celery beat): runs whose worker was lost end ``failed``, never stuck ``running``."""
    return services.shadow_run_fail_stale()
