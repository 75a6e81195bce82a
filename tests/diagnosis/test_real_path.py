"""THE REAL PATH: API upload -> Redis -> a real Celery worker process -> stored prediction.

The worker and broker fixtures are in tests/fixtures/worker.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from diagnosis.models import Prediction
from tests.factories import CaseFactory, image_bytes

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WORKER_TIMEOUT_S = 120


def test_api_upload_is_predicted_by_a_real_worker(worker_process, api_client, team):
    case = CaseFactory(team=team)
    upload = SimpleUploadedFile("wrist.png", image_bytes("PNG", size=(96, 128)), content_type="image/png")
    response = api_client.post(f"/api/v1/cases/{case.pk}/radiographs/", {"image": upload}, format="multipart")
    assert response.status_code == 202, response.json()
    url = response.json()["prediction"]["url"]

    deadline = time.monotonic() + WORKER_TIMEOUT_S
    body = api_client.get(url).json()
    while body["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
        body = api_client.get(url).json()

    log = Path(worker_process).read_text()
    assert body["status"] == "succeeded", f"{body}\n--- worker log ---\n{log[-4000:]}"
    assert body["model_version"] == "tiny-test" and body["label"] in ("fractured", "not_fractured")
    prediction = Prediction.objects.get(pk=body["id"])
    assert prediction.attempts == 1 and prediction.enqueued_at is not None
