"""Hostile API input: always a 4xx with a JSON body, or stored verbatim and escaped on pages; never a 500.

Unknown fields are ignored (DRF's rule, documented in the schema description) and must change
nothing; the table below adds wrong types, malformed bodies, out-of-range ids and page sizes.
"""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from diagnosis.models import Case, Patient
from tests.factories import PredictionFactory

pytestmark = pytest.mark.django_db

HUGE = 10**30
BIGINT_OVERFLOW = 2**63


@pytest.fixture
def mine(team):
    prediction = PredictionFactory(radiograph__case__team=team, radiograph__case__patient__team=team)
    return prediction.radiograph.case


def _cases(case: Case) -> list[tuple[str, str, object, tuple[int, ...]]]:
    p, c = case.patient.pk, case.pk
    patient = {"mrn": "NEW-1", "name": "New", "date_of_birth": "1970-01-01"}
    return [
        # Ids in the path: negative, huge, beyond BIGINT, not a number.
        *[
            ("get", f"/api/v1/{kind}/{bad}/", None, (404,))
            for kind in ("patients", "cases", "predictions")
            for bad in (-1, 0, HUGE, BIGINT_OVERFLOW, "abc", "1e3")
        ],
        ("patch", f"/api/v1/patients/{HUGE}/", {"name": "x"}, (404,)),
        ("post", f"/api/v1/cases/{BIGINT_OVERFLOW}/radiographs/", {}, (404,)),
        # Ids and choices in the query string.
        *[
            ("get", "/api/v1/predictions/", {key: bad}, (400,))
            for key in ("case", "patient", "radiograph")
            for bad in (-1, HUGE, BIGINT_OVERFLOW, "abc", "1.5")
        ],
        ("get", "/api/v1/cases/", {"team": HUGE}, (400,)),
        ("get", "/api/v1/cases/", {"status": "'; DROP TABLE diagnosis_case; --"}, (400,)),
        ("get", "/api/v1/predictions/", {"page": -1}, (404,)),
        ("get", "/api/v1/predictions/", {"page": HUGE}, (404,)),
        ("get", "/api/v1/predictions/", {"page_size": -5}, (200,)),
        ("get", "/api/v1/predictions/", {"page_size": "lots"}, (200,)),
        ("get", "/api/v1/patients/", {"search": "' OR 1=1 --"}, (200,)),
        ("get", "/api/v1/patients/", {"search": "\x00"}, (200,)),
        # Bodies of the wrong shape or type.
        ("post", "/api/v1/patients/", [patient], (400,)),
        ("post", "/api/v1/patients/", "a string", (400,)),
        ("post", "/api/v1/patients/", None, (400,)),
        ("post", "/api/v1/patients/", {"mrn": {"$ne": 1}, "name": ["x"], "date_of_birth": 19700101}, (400,)),
        ("post", "/api/v1/patients/", {**patient, "sex": None}, (400,)),
        ("post", "/api/v1/patients/", {**patient, "mrn": "A\x00B"}, (400,)),
        ("post", "/api/v1/patients/", {**patient, "date_of_birth": "99999-01-01"}, (400,)),
        ("post", "/api/v1/patients/", {**patient, "team": HUGE}, (400,)),
        ("post", "/api/v1/patients/", {**patient, "team": "Orthopaedics"}, (400,)),
        ("post", "/api/v1/cases/", {"patient": BIGINT_OVERFLOW, "body_region": "hip"}, (400,)),
        ("post", "/api/v1/cases/", {"patient": True, "body_region": "hip"}, (400,)),
        ("post", "/api/v1/cases/", {"patient": p, "body_region": ["hip"]}, (400,)),
        ("post", "/api/v1/cases/", {"patient": p, "body_region": "hip", "clinical_question": "x" * 5001}, (400,)),
        ("patch", f"/api/v1/patients/{p}/", {"mrn": "x" * 65}, (400,)),
        ("patch", f"/api/v1/cases/{c}/", {"status": "deleted"}, (400,)),
        ("post", f"/api/v1/cases/{c}/radiographs/", {"image": 5}, (415,)),  # JSON is not an upload
    ]


def test_a_table_of_bad_input_gives_json_4xx_never_500(api_client, mine):
    failures = []
    for method, url, data, expected in _cases(mine):
        if method == "get":
            response = api_client.get(url, data)
        else:
            response = getattr(api_client, method)(url, data, format="json")
        is_json = response["Content-Type"].startswith("application/json")
        if response.status_code not in expected or not is_json:
            failures.append(f"{method.upper()} {url} {data!r:.80} -> {response.status_code} {response.content[:120]!r}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        ("[" * 50_000 + "]" * 50_000, "application/json", 400),  # nesting deep enough to hit recursion limits
        ("mrn=X", "text/plain", 415),
        (json.dumps({"mrn": "Y", "name": "x" * 3_000_000, "date_of_birth": "1970-01-01"}), "application/json", 413),
    ],
    ids=["malformed", "deeply-nested", "wrong-content-type", "over-2MB"],
)
@pytest.mark.parametrize("url", ["/api/v1/patients/", "/api/v1/auth/token/"])
def test_malformed_bodies_are_json_errors(api_client, url, body, content_type, status):
    response = api_client.generic("POST", url, body, content_type=content_type)
    assert response.status_code == status and "detail" in response.json()
    assert not Patient.objects.exists()


def test_huge_page_size_is_capped(api_client, team):
    PredictionFactory.create_batch(3, radiograph__case__team=team)
    page = api_client.get("/api/v1/predictions/", {"page_size": 10**9}).json()
    assert page["count"] == 3 and len(page["results"]) == 3
    from diagnosis.api.pagination import CappedPageNumberPagination

    assert CappedPageNumberPagination.max_page_size == 100


def test_unknown_and_read_only_fields_are_ignored_and_change_nothing(api_client, mine, outsider):
    foreign_team = outsider.groups.get()
    patient = mine.patient
    response = api_client.patch(
        f"/api/v1/patients/{patient.pk}/",
        {"name": "Kept", "id": 999, "team": foreign_team.pk, "created_by": outsider.pk, "is_superuser": True},
        format="json",
    )
    assert response.status_code == 200 and response.json()["id"] == patient.pk
    patient.refresh_from_db()
    assert (patient.name, patient.team_id, patient.created_by_id) == ("Kept", mine.team_id, None)
    moved = api_client.patch(f"/api/v1/cases/{mine.pk}/", {"team": foreign_team.pk, "patient": 1}, format="json")
    assert moved.status_code == 200
    mine.refresh_from_db()
    assert (mine.team_id, mine.patient_id) == (patient.team_id, patient.pk)


SQL = "Robert'); DROP TABLE diagnosis_patient;--"
SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_sql_and_script_are_stored_verbatim_and_escaped_on_pages(api_client, clinician_client, team):
    created = api_client.post(
        "/api/v1/patients/", {"mrn": SQL[:64], "name": SCRIPT, "date_of_birth": "1970-01-01"}, format="json"
    )
    assert created.status_code == 201, created.json()
    patient = Patient.objects.get()
    assert (patient.mrn, patient.name) == (SQL[:64], SCRIPT)
    case = api_client.post(
        "/api/v1/cases/",
        {"patient": patient.pk, "body_region": "wrist", "clinical_question": SCRIPT + SQL},
        format="json",
    )
    assert case.status_code == 201
    assert api_client.get(f"/api/v1/cases/{case.json()['id']}/").json()["clinical_question"] == SCRIPT + SQL
    assert Patient.objects.count() == 1  # the table is still there

    for url in [
        reverse("diagnosis:patient-list"),
        reverse("diagnosis:patient-detail", args=[patient.pk]),
        reverse("diagnosis:case-detail", args=[case.json()["id"]]),
        reverse("diagnosis:worklist"),
    ]:
        html = clinician_client.get(url).content.decode()
        assert "<script>alert" not in html and "<img src=x" not in html, url
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html, url
    search = clinician_client.get(reverse("diagnosis:patient-list"), {"q": SQL}).content.decode()
    assert "Robert&#x27;); DROP TABLE" in search


def test_web_pages_reject_out_of_range_ids_with_404(clinician_client):
    for url in [f"/patients/{HUGE}/", f"/cases/{BIGINT_OVERFLOW}/", f"/radiographs/{HUGE}/image/", "/patients/-1/"]:
        assert clinician_client.get(url).status_code == 404, url
    assert clinician_client.get("/patients/", {"page": HUGE}).status_code == 200
    assert clinician_client.get("/patients/", {"q": "a\x00b"}).status_code == 200  # PostgreSQL refuses NUL


def test_case_form_rejects_an_oversized_question(clinician_client, mine):
    data = {"body_region": "hip", "status": "open", "clinical_question": "x" * 5001}
    response = clinician_client.post(reverse("diagnosis:case-edit", args=[mine.pk]), data)
    assert response.status_code == 400 and Case.objects.get(pk=mine.pk).body_region == "wrist"
