"""Shadow predictions are never clinical results: after a run, no clinician page, API answer or
FHIR report shows a shadow figure, and every page and count is as it was."""

from __future__ import annotations

import json
import re

import pytest
from rest_framework.test import APIClient

from diagnosis.models import Prediction
from shadow import services
from shadow.models import ShadowPrediction
from tests.factories import UserFactory
from tests.shadow.conftest import CANDIDATE

pytestmark = pytest.mark.django_db

SENTINEL = 0.4242  # every shadow probability is set to this after the run
SHADOW_MARKS = (CANDIDATE.encode(), b"42.4", b"0.4242", b"Shadow run")
# Per-response tokens that differ between two identical renderings.
VOLATILE = re.compile(rb'(csrfmiddlewaretoken" value="|nonce="|csrftoken=)[^"; ]+')


def _pages(stored) -> list[str]:
    prediction = stored[-1]
    radiograph = prediction.radiograph
    return [
        "/",
        f"/cases/{radiograph.case_id}/",
        f"/cases/{radiograph.case_id}/report/",
        f"/radiographs/{radiograph.pk}/",
        f"/patients/{radiograph.case.patient_id}/",
    ]


def _api(stored) -> list[str]:
    return [
        "/api/v1/predictions/",
        f"/api/v1/predictions/?case={stored[-1].radiograph.case_id}",
        *[f"/api/v1/predictions/{p.pk}/" for p in stored],
        *[f"/api/v1/predictions/{p.pk}/fhir/" for p in stored],
        f"/api/v1/cases/{stored[-1].radiograph.case_id}/",
    ]


def _snapshot(client: APIClient, stored) -> dict[str, bytes]:
    out = {}
    for url in _pages(stored) + _api(stored):
        response = client.get(url)
        assert response.status_code == 200, url
        out[url] = VOLATILE.sub(rb"\1", response.content)
    return out


def test_a_shadow_run_changes_nothing_a_clinician_sees(clinician, candidate, stored):
    client = APIClient()
    client.force_login(clinician)
    before = _snapshot(client, stored)
    predictions_before = list(Prediction.objects.order_by("pk").values())

    run = services.shadow_run_start(user=UserFactory(is_superuser=True), candidate=candidate, n=10)
    services.shadow_run_execute(run_id=run.pk)
    assert ShadowPrediction.objects.filter(run=run).count() == 3
    ShadowPrediction.objects.update(probability=SENTINEL, labels={"balanced": "fractured"})

    after = _snapshot(client, stored)
    for url, body in after.items():
        assert not [mark for mark in SHADOW_MARKS if mark in body], url
        assert body == before[url], f"{url} changed after a shadow run"
    assert json.loads(after["/api/v1/predictions/"])["count"] == 4  # three finished, one queued
    assert list(Prediction.objects.order_by("pk").values()) == predictions_before
