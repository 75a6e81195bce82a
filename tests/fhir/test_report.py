"""FHIR R4 DiagnosticReport of a prediction: content, validation, media type, scoping, schema."""

from __future__ import annotations

import datetime

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from fhir.resources.R4B.diagnosticreport import DiagnosticReport

from diagnosis import fhir
from diagnosis.models import AuditEvent
from diagnosis.services.dicom_filing import dicom_receive
from tests.dicom import builders
from tests.factories import CaseFactory, PredictionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def prediction(team):
    return PredictionFactory(
        fractured=True,
        probability=0.91,
        model_version="20261128-065535-default",
        finished_at=timezone.now(),
        radiograph__case=CaseFactory(
            team=team, patient__team=team, patient__mrn="A-1001", patient__name="Ada Lovelace"
        ),
    )


def _get(api_client, prediction, **headers):
    return api_client.get(f"/api/v1/predictions/{prediction.pk}/fhir/", **headers)


def test_a_finished_prediction_is_a_preliminary_report_with_observation_and_device(api_client, prediction):
    response = _get(api_client, prediction)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    body = response.json()
    report = DiagnosticReport.model_validate(body)  # a valid resource, read back
    assert report.status == "preliminary" and body["subject"]["identifier"]["value"] == "A-1001"
    assert body["result"] == [{"reference": "#ai-opinion"}]
    contained = {item["resourceType"]: item for item in body["contained"]}
    observation, device = contained["Observation"], contained["Device"]
    assert observation["valueQuantity"]["value"] == 0.91 and observation["valueQuantity"]["code"] == "1"
    assert observation["interpretation"][0]["coding"][0]["code"] == "A"
    assert {c["code"]["text"]: c for c in observation["component"]}["AI label"]["valueCodeableConcept"] == {
        "text": "Fracture suspected"
    }
    assert observation["device"] == {"reference": "#model"}
    assert device["version"] == [{"value": "20261128-065535-default"}]
    assert "not a diagnosis" in body["conclusion"] and "91%" in body["conclusion"]
    assert AuditEvent.objects.filter(action="view_prediction", extra__via="fhir").count() == 1


def test_plain_json_clients_get_the_same_report(api_client, prediction):
    response = _get(api_client, prediction, HTTP_ACCEPT="application/json")
    assert response.status_code == 200 and response.json()["resourceType"] == "DiagnosticReport"


@pytest.mark.parametrize(("status", "fhir_status"), [("queued", "registered"), ("running", "registered")])
def test_a_pending_prediction_is_registered_without_a_result(api_client, team, status, fhir_status):
    pending = PredictionFactory(status=status, radiograph__case=CaseFactory(team=team, patient__team=team))
    body = _get(api_client, pending).json()
    assert body["status"] == fhir_status and "result" not in body and "contained" not in body


def test_a_failed_prediction_is_cancelled_with_the_reason(api_client, team):
    failed = PredictionFactory(
        status="failed", error="The AI model is unavailable: missing", radiograph__case=CaseFactory(team=team)
    )
    body = _get(api_client, failed).json()
    assert body["status"] == "cancelled" and "model is unavailable" in body["conclusion"]


def test_a_dicom_radiograph_names_its_imaging_study(api_client, team):
    filed = dicom_receive(team=team, file=ContentFile(builders.dicom_bytes(accession="ACC-9"), name="a.dcm"))
    body = _get(api_client, filed.radiograph.current_prediction).json()
    study = next(item for item in body["contained"] if item["resourceType"] == "ImagingStudy")
    assert study["identifier"][0]["value"] == f"urn:oid:{filed.radiograph.dicom.study_instance_uid}"
    assert {"type": {"text": "Accession number"}, "value": "ACC-9"} in study["identifier"]
    assert body["imagingStudy"] == [{"reference": "#study"}]


def test_another_teams_prediction_is_a_404(outsider, prediction):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=outsider).key}")
    assert _get(client, prediction).status_code == 404
    assert client.get("/api/v1/predictions/999999/fhir/").status_code == 404


def test_anonymous_requests_are_refused(client, prediction):
    assert client.get(f"/api/v1/predictions/{prediction.pk}/fhir/").status_code in (401, 403)


def test_the_clinician_read_seam_makes_the_report_final(prediction, monkeypatch):
    # No reviews exist yet: the seam returns none today ...
    assert fhir.clinician_reads(prediction) == []
    # ... and when the reviews feature supplies a read, the report carries it.
    read = fhir.ClinicianRead(
        read="no_fracture",
        note="Old healed fracture only.",
        clinician="Dr Grace Hopper",
        recorded_at=datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC),
    )
    monkeypatch.setattr(fhir, "clinician_reads", lambda p: [read])
    report = fhir.prediction_report(prediction, absolute=lambda path: f"https://triage.example.org{path}")
    assert report.status == "final"
    assert report.resultsInterpreter[0].display == "Dr Grace Hopper"
    assert report.conclusion.startswith("Clinician read (Dr Grace Hopper): no fracture. Old healed fracture only.")
    assert report.contained[0].status == "final"


def test_the_endpoint_is_in_the_openapi_schema(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    text = schema.content.decode()
    assert "/api/v1/predictions/{id}/fhir/" in text and "application/fhir+json" in text
