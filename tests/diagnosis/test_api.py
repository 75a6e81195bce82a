"""REST API v1: contracts of DESIGN.md, scoping, errors as JSON, schema."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from diagnosis.models import Prediction, Radiograph
from tests.factories import CaseFactory, PatientFactory, PredictionFactory, TeamFactory, image_bytes

pytestmark = pytest.mark.django_db


def test_token_login_then_token_auth(clinician):
    client = APIClient()
    bad = client.post("/api/v1/auth/token/", {"username": "dr_ada", "password": "wrong"}, format="json")
    assert bad.status_code == 400 and "non_field_errors" in bad.json()
    response = client.post("/api/v1/auth/token/", {"username": "dr_ada", "password": "correct horse battery"})
    token = response.json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/patients/").status_code == 200


@pytest.mark.parametrize("url", ["/api/v1/patients/", "/api/v1/cases/", "/api/v1/predictions/", "/api/v1/patients/1/"])
def test_anonymous_gets_401_json(url):
    response = APIClient().get(url)
    assert response.status_code == 401 and "detail" in response.json()


def test_patient_create_list_patch_and_no_delete(api_client):
    created = api_client.post(
        "/api/v1/patients/",
        {"mrn": " P-1 ", "name": "Ada", "date_of_birth": "1980-05-17", "sex": "female"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body == {"id": body["id"], "mrn": "P-1", "name": "Ada", "date_of_birth": "1980-05-17", "sex": "female"}
    url = f"/api/v1/patients/{body['id']}/"
    assert api_client.patch(url, {"name": "Ada L."}, format="json").json()["name"] == "Ada L."
    assert api_client.delete(url).status_code == 405
    listing = api_client.get("/api/v1/patients/", {"search": "P-1"}).json()
    assert (listing["count"], listing["results"][0]["name"]) == (1, "Ada L.")
    assert set(listing) == {"count", "next", "previous", "results"}


def test_patient_bad_input_is_400_with_field_errors(api_client):
    response = api_client.post("/api/v1/patients/", {"mrn": "", "date_of_birth": "17/05/1980", "sex": "x"})
    assert response.status_code == 400
    assert set(response.json()) == {"mrn", "name", "date_of_birth", "sex"}
    PatientFactory(mrn="DUP")
    dup = api_client.post("/api/v1/patients/", {"mrn": "DUP", "name": "A", "date_of_birth": "1980-01-01"})
    assert dup.status_code == 400 and "mrn" in dup.json()


def test_case_create_team_optional_for_a_single_team(api_client, clinician, team):
    patient = PatientFactory(team=team)
    response = api_client.post("/api/v1/cases/", {"patient": patient.pk, "body_region": "wrist"}, format="json")
    assert response.status_code == 201, response.json()
    assert {k: response.json()[k] for k in ("patient", "team", "status")} == {
        "patient": patient.pk,
        "team": team.pk,
        "status": "open",
    }
    clinician.groups.add(TeamFactory())
    again = api_client.post("/api/v1/cases/", {"patient": patient.pk, "body_region": "wrist"}, format="json")
    assert again.status_code == 400 and "team" in again.json()


def test_case_create_refuses_other_teams_and_their_patients(api_client, team):
    foreign_team, foreign_patient = TeamFactory(), PatientFactory()
    mine = PatientFactory(team=team)
    response = api_client.post("/api/v1/cases/", {"patient": foreign_patient.pk, "body_region": "hip"})
    assert response.status_code == 400 and "patient" in response.json()
    response = api_client.post("/api/v1/cases/", {"patient": mine.pk, "team": foreign_team.pk, "body_region": "hip"})
    assert response.status_code == 400 and "team" in response.json()


def test_case_patch_and_filters(api_client, team):
    case = CaseFactory(team=team)
    CaseFactory(team=team, status="closed")
    assert api_client.patch(f"/api/v1/cases/{case.pk}/", {"status": "closed"}, format="json").status_code == 200
    assert api_client.get("/api/v1/cases/", {"status": "open"}).json()["count"] == 0
    assert api_client.get("/api/v1/cases/", {"status": "bogus"}).status_code == 400


def test_other_team_gets_404_everywhere(outsider):
    prediction = PredictionFactory()
    case = prediction.radiograph.case
    client = APIClient()
    client.force_authenticate(outsider)
    for url in [
        f"/api/v1/patients/{case.patient.pk}/",
        f"/api/v1/cases/{case.pk}/",
        f"/api/v1/predictions/{prediction.pk}/",
    ]:
        response = client.get(url)
        assert response.status_code == 404 and "detail" in response.json(), url
    assert client.patch(f"/api/v1/cases/{case.pk}/", {"status": "closed"}).status_code == 404
    upload = SimpleUploadedFile("x.png", image_bytes())
    assert client.post(f"/api/v1/cases/{case.pk}/radiographs/", {"image": upload}).status_code == 404
    assert client.get("/api/v1/predictions/").json()["count"] == 0


def test_upload_returns_202_with_prediction_link(api_client, team, sent_tasks):
    case = CaseFactory(team=team)
    upload = SimpleUploadedFile("wrist.png", image_bytes(), content_type="image/png")
    response = api_client.post(f"/api/v1/cases/{case.pk}/radiographs/", {"image": upload}, format="multipart")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["case"], body["format"], body["original_filename"]) == (case.pk, "PNG", "wrist.png")
    prediction = body["prediction"]
    assert prediction["status"] == "queued"
    assert prediction["url"] == f"http://testserver/api/v1/predictions/{prediction['id']}/"
    detail = api_client.get(prediction["url"]).json()
    assert detail["status"] == "queued" and detail["label"] is None and detail["case"] == case.pk


@pytest.mark.parametrize(
    ("data", "field"),
    [({}, "image"), ({"image": SimpleUploadedFile("a.png", b"hello")}, "image"), ({"image": "text"}, "image")],
)
def test_bad_upload_is_400_json_and_stores_nothing(api_client, team, data, field):
    case = CaseFactory(team=team)
    response = api_client.post(f"/api/v1/cases/{case.pk}/radiographs/", data, format="multipart")
    assert response.status_code == 400 and field in response.json()
    assert Radiograph.objects.count() == 0


def test_oversize_upload_is_413(api_client, team, settings):
    settings.FRACTURE_MAX_UPLOAD_BYTES = 1024
    case = CaseFactory(team=team)
    upload = SimpleUploadedFile("big.png", b"\x89PNG" + b"\0" * 200_000)
    response = api_client.post(f"/api/v1/cases/{case.pk}/radiographs/", {"image": upload}, format="multipart")
    assert response.status_code == 413 and "larger than the 1 KB limit" in response.json()["detail"]


def test_prediction_filters_and_capped_page_size(api_client, team):
    case = CaseFactory(team=team)
    fractured = PredictionFactory(radiograph__case=case, fractured=True)
    PredictionFactory.create_batch(3, radiograph__case__team=team)
    listing = api_client.get("/api/v1/predictions/", {"label": "fractured", "case": case.pk}).json()
    assert [row["id"] for row in listing["results"]] == [fractured.pk]
    assert api_client.get("/api/v1/predictions/", {"status": "queued"}).json()["count"] == 3
    by_patient = api_client.get("/api/v1/predictions/", {"patient": case.patient.pk}).json()
    assert by_patient["count"] == 1
    assert api_client.get("/api/v1/predictions/", {"label": "maybe"}).status_code == 400
    page = api_client.get("/api/v1/predictions/", {"page_size": 1000}).json()
    assert page["count"] == Prediction.objects.count() and page["next"] is None


def test_page_size_is_capped_at_100(api_client, team):
    PredictionFactory.create_batch(101, radiograph__case__team=team, radiograph__case__patient__team=team)
    page = api_client.get("/api/v1/predictions/", {"page_size": 500}).json()
    assert len(page["results"]) == 100 and page["next"]


def test_schema_builds_without_warnings_and_docs_are_served(client):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200 and b"/api/v1/auth/token/" in schema.content
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200 and b"swagger-ui" in docs.content and b"cdn" not in docs.content.lower()


def test_same_file_twice_is_409_with_the_existing_radiograph(api_client, team):
    case = CaseFactory(team=team)
    content = image_bytes()
    url = f"/api/v1/cases/{case.pk}/radiographs/"
    first = api_client.post(url, {"image": SimpleUploadedFile("a.png", content)}, format="multipart")
    assert first.status_code == 202
    again = api_client.post(url, {"image": SimpleUploadedFile("b.png", content)}, format="multipart")
    assert again.status_code == 409, again.json()
    body = again.json()
    assert body["code"] == "duplicate" and "already in this case" in body["detail"]
    assert body["radiograph"]["id"] == first.json()["id"]
    assert body["radiograph"]["prediction"]["id"] == first.json()["prediction"]["id"]
    assert body["radiograph"]["sha256"] == first.json()["sha256"]
    assert Radiograph.objects.count() == 1 and Prediction.objects.count() == 1
