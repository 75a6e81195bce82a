"""A shadow run through Redis and a real Celery worker process, on the queue it is sent to."""

from __future__ import annotations

import time

import pytest

from shadow import services
from shadow.models import ShadowPrediction, ShadowRun
from tests.factories import UserFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WORKER_TIMEOUT_S = 120


def test_a_real_worker_runs_a_shadow_run_to_the_end(start_worker, celery_queue, candidate, stored, settings):
    settings.FRACTURE_SHADOW_QUEUE = celery_queue  # the worker consumes this test's private queue
    worker = start_worker(env={"FRACTURE_MODELS_DIR": str(settings.FRACTURE_MODELS_DIR), "FRACTURE_MODEL": ""})
    run = services.shadow_run_start(user=UserFactory(is_superuser=True), candidate=candidate, n=3)

    deadline = time.monotonic() + WORKER_TIMEOUT_S
    while ShadowRun.objects.get(pk=run.pk).is_pending and time.monotonic() < deadline:
        time.sleep(0.5)

    run.refresh_from_db()
    assert run.status == ShadowRun.Status.SUCCEEDED, f"{run.error}\n--- worker log ---\n{worker.output()[-4000:]}"
    assert run.done == 3 and ShadowPrediction.objects.filter(run=run).count() == 3
