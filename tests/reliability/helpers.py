"""Shared steps of the fault tests: upload through the API and wait for a state to be reached."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from diagnosis.models import Case, Prediction
from tests.factories import image_bytes

_variants = itertools.count(1)


def api_upload(client: APIClient, case: Case, *, name: str = "wrist.png") -> dict:
    """POST one small X-ray (new bytes every call) to a case; the response must be the contract's 202."""
    content = image_bytes("PNG", size=(96, 128), variant=next(_variants))
    upload = SimpleUploadedFile(name, content, content_type="image/png")
    response = client.post(f"/api/v1/cases/{case.pk}/radiographs/", {"image": upload}, format="multipart")
    assert response.status_code == 202, response.content
    return response.json()


def wait_for(predicate: Callable[[], bool], *, timeout: float, what: str, log: Callable[[], str] | None = None) -> None:
    """Poll until ``predicate()`` holds; on timeout fail with ``what`` and the tail of ``log()``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            detail = f"\n--- worker log ---\n{log()[-4000:]}" if log else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(0.2)


def prediction_status(prediction_id: int) -> str:
    return Prediction.objects.values_list("status", flat=True).get(pk=prediction_id)
