"""A running real worker follows an activation without a restart (API -> Redis -> celery worker)."""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from inference.services import model_version_activate
from tests.factories import CaseFactory, UserFactory, image_bytes

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WORKER_TIMEOUT_S = 120


def _predict(api_client, case, variant: int) -> dict:
    upload = SimpleUploadedFile(
        "wrist.png", image_bytes("PNG", size=(96, 128), variant=variant), content_type="image/png"
    )
    response = api_client.post(f"/api/v1/cases/{case.pk}/radiographs/", {"image": upload}, format="multipart")
    assert response.status_code == 202, response.json()
    url = response.json()["prediction"]["url"]
    deadline = time.monotonic() + WORKER_TIMEOUT_S
    body = api_client.get(url).json()
    while body["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.25)
        body = api_client.get(url).json()
    return body


def test_activation_switches_a_running_worker_without_restart(start_worker, models_root, register, api_client, team):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    a, b = register("tiny-a"), register("tiny-b")
    first = model_version_activate(version=a, user=admin, reason="initial")
    worker = start_worker(
        env={"FRACTURE_MODELS_DIR": str(models_root), "FRACTURE_MODEL": "", "FRACTURE_ACTIVE_RECHECK_S": "2"}
    )
    case = CaseFactory(team=team)

    body = _predict(api_client, case, variant=1)
    assert body["status"] == "succeeded", f"{body}\n--- worker log ---\n{worker.output()[-4000:]}"
    assert (body["model_version"], body["threshold_name"]) == ("tiny-a", "balanced")
    pid = worker.process.pid

    model_version_activate(version=b, user=admin, reason="switch", expected_active=first)
    activated_at = time.monotonic()
    seen = []
    while time.monotonic() - activated_at < 20:
        body = _predict(api_client, case, variant=len(seen) + 2)
        assert body["status"] == "succeeded", f"{body}\n--- worker log ---\n{worker.output()[-4000:]}"
        seen.append(body["model_version"])
        if seen[-1] == "tiny-b":
            break
        time.sleep(0.5)
    assert seen[-1] == "tiny-b", f"still {seen} after 20 s\n{worker.output()[-4000:]}"
    assert time.monotonic() - activated_at < 10  # the re-check is 2 s here
    assert set(seen) <= {"tiny-a", "tiny-b"} and worker.alive() and worker.process.pid == pid
