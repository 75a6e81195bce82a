"""Clinician pages: what a logged-in clinician sees, and what another team never sees."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from diagnosis.models import Case, Patient, Prediction, Radiograph
from tests.factories import CaseFactory, PatientFactory, PredictionFactory, TeamFactory, image_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def fractured(team):
    return PredictionFactory(fractured=True, radiograph__case__team=team, radiograph__case__patient__team=team)


def _page_urls(prediction: Prediction) -> list[str]:
    radiograph = prediction.radiograph
    case = radiograph.case
    return [
        reverse("diagnosis:patient-detail", args=[case.patient.pk]),
        reverse("diagnosis:patient-edit", args=[case.patient.pk]),
        reverse("diagnosis:case-create", args=[case.patient.pk]),
        reverse("diagnosis:case-detail", args=[case.pk]),
        reverse("diagnosis:case-edit", args=[case.pk]),
        reverse("diagnosis:radiograph-detail", args=[radiograph.pk]),
        reverse("diagnosis:radiograph-detail", args=[radiograph.pk]) + "?fragment=1",
        reverse("diagnosis:radiograph-image", args=[radiograph.pk]),
        reverse("diagnosis:radiograph-image", args=[radiograph.pk]) + "?thumb=1",
    ]


def test_anonymous_is_sent_to_login(client, fractured):
    for url in [reverse("diagnosis:worklist"), reverse("diagnosis:patient-list"), *_page_urls(fractured)]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url


def test_every_page_and_image_is_404_for_another_team(client, outsider, fractured):
    client.force_login(outsider)
    for url in _page_urls(fractured):
        assert client.get(url).status_code == 404, url
    upload = reverse("diagnosis:case-upload", args=[fractured.radiograph.case.pk])
    assert client.post(upload, {"image": []}).status_code == 404
    worklist = client.get(reverse("diagnosis:worklist")).content.decode()
    assert fractured.radiograph.case.patient.name not in worklist
    patients = client.get(reverse("diagnosis:patient-list")).content.decode()
    assert fractured.radiograph.case.patient.mrn not in patients


def test_worklist_flags_suspected_fracture_and_shows_notice(clinician_client, fractured, team):
    calm = PredictionFactory(not_fractured=True, radiograph__case__team=team, radiograph__case__patient__team=team)
    html = clinician_client.get(reverse("diagnosis:worklist")).content.decode()
    assert "Decision support only: not a diagnosis." in html
    assert html.count('class="row-flag"') == 1
    assert "Suspected fracture" in html and "90%" in html
    assert "No fracture seen" in html and calm.radiograph.case.patient.name in html
    thumb = reverse("diagnosis:radiograph-image", args=[fractured.radiograph.pk]) + "?thumb=1"
    assert thumb in html


def test_pending_prediction_is_polled_from_the_api(clinician_client, team):
    queued = PredictionFactory(radiograph__case__team=team, radiograph__case__patient__team=team)
    html = clinician_client.get(reverse("diagnosis:case-detail", args=[queued.radiograph.case.pk])).content.decode()
    assert f'data-poll="/api/v1/predictions/{queued.pk}/"' in html
    assert "Queued" in html


def test_radiograph_page_shows_result_details(clinician_client, fractured):
    url = reverse("diagnosis:radiograph-detail", args=[fractured.radiograph.pk])
    html = clinician_client.get(url).content.decode()
    for expected in ("Suspected fracture", "90%", "0.50", fractured.model_version, "not a diagnosis"):
        assert expected in html


def test_the_radiograph_fragment_is_the_page_content_alone_and_audited(clinician_client, fractured):
    from diagnosis.audit import Action
    from diagnosis.models import AuditEvent

    radiograph = fractured.radiograph
    second = PredictionFactory(not_fractured=True, radiograph__case=radiograph.case).radiograph  # listed first
    url = reverse("diagnosis:radiograph-detail", args=[radiograph.pk])
    page = clinician_client.get(url).content.decode()
    before = AuditEvent.objects.filter(action=Action.VIEW_RADIOGRAPH, object_id=str(radiograph.pk)).count()
    response = clinician_client.get(url, {"fragment": "1"})
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html and "<title>" not in html
    assert html.strip().startswith('<div id="radiograph-page"') and '<div id="radiograph-page"' in page
    assert 'data-title="X-ray wrist.png (2 of 2) · ' in html and 'data-announce="Image 2 of 2: wrist.png"' in html
    for part in ("heading", "overlay-button", "heatmap", "caption", "verdict", "dicom"):
        assert f'data-swap="{part}"' in html, part
    assert f'href="/radiographs/{second.pk}/#viewer" id="viewer-previous"' in html
    after = AuditEvent.objects.filter(action=Action.VIEW_RADIOGRAPH, object_id=str(radiograph.pk)).count()
    assert after == before + 1, "an image shown in the viewer is recorded like the page"


def test_patient_search_by_mrn_and_name(clinician_client, team):
    PatientFactory(team=team, mrn="A-1001", name="Grace Hopper")
    PatientFactory(team=team, mrn="B-2002", name="Alan Turing")
    by_mrn = clinician_client.get(reverse("diagnosis:patient-list"), {"q": "A-10"}).content.decode()
    assert "Grace Hopper" in by_mrn and "Alan Turing" not in by_mrn
    by_name = clinician_client.get(reverse("diagnosis:patient-list"), {"q": "turing"}).content.decode()
    assert "Alan Turing" in by_name and "Grace Hopper" not in by_name


def test_patient_list_counts_only_visible_cases(clinician_client, team):
    patient = PatientFactory(team=team, mrn="CNT-1", name="Counted Patient")
    CaseFactory(patient=patient, team=team)
    CaseFactory(patient=patient, team=team)
    CaseFactory(patient=patient, team=TeamFactory())  # another team's case on the same patient
    html = clinician_client.get(reverse("diagnosis:patient-list"), {"q": "CNT-1"}).content.decode()
    row = html[html.index("Counted Patient") :]
    assert '<td data-label="Cases">2</td>' in row[: row.index("</tr>")]  # the Cases cell, stacked or not


def test_create_patient_then_case_through_the_forms(clinician_client, clinician):
    response = clinician_client.post(
        reverse("diagnosis:patient-create"),
        {"mrn": " MRN-77 ", "name": "Mary Anning", "date_of_birth": "1979-05-21", "sex": "female",
         "team": clinician.groups.get().pk},
    )  # fmt: skip
    patient = Patient.objects.get(mrn="MRN-77")
    assert response.status_code == 302 and response["Location"] == f"/patients/{patient.pk}/"
    response = clinician_client.post(
        reverse("diagnosis:case-create", args=[patient.pk]),
        {"body_region": "ankle", "clinical_question": "Inversion injury", "team": clinician.groups.get().pk},
    )
    case = Case.objects.get(patient=patient)
    assert response["Location"] == f"/cases/{case.pk}/" and case.created_by == clinician


def test_duplicate_mrn_is_a_form_error_not_a_crash(clinician_client, clinician, team):
    PatientFactory(team=team, mrn="DUP-1")
    response = clinician_client.post(
        reverse("diagnosis:patient-create"),
        {"mrn": "DUP-1", "name": "Someone", "date_of_birth": "2000-01-01", "sex": "unknown", "team": team.pk},
    )
    assert response.status_code == 400
    assert "MRN" in response.content.decode() and Patient.objects.filter(mrn="DUP-1").count() == 1


def test_form_upload_fallback_stores_and_reports_rejections(
    clinician_client, team, sent_tasks, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    case = CaseFactory(team=team, patient__team=team)
    good = SimpleUploadedFile("hand.png", image_bytes("PNG"), content_type="image/png")
    bad = SimpleUploadedFile("notes.png", b"just some text", content_type="image/png")
    with django_capture_on_commit_callbacks(execute=True):
        response = clinician_client.post(
            reverse("diagnosis:case-upload", args=[case.pk]), {"image": [good, bad]}, follow=True
        )
    html = response.content.decode()
    assert "hand.png: uploaded, analysis queued." in html and "notes.png:" in html
    assert Radiograph.objects.filter(case=case).count() == 1 and len(sent_tasks) == 1


def test_pages_carry_a_strict_content_security_policy(clinician_client):
    policy = clinician_client.get(reverse("diagnosis:worklist"))["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy


def test_date_inputs_render_iso_whatever_the_locale(clinician_client, team):
    """A date input shows nothing for 09/12/1946 (en-gb's format): the value must be ISO."""
    patient = PatientFactory(team=team, date_of_birth=datetime.date(1946, 12, 9))
    html = clinician_client.get(reverse("diagnosis:patient-edit", args=[patient.pk])).content.decode()
    assert 'type="date"' in html and 'value="1946-12-09"' in html
    response = clinician_client.post(
        reverse("diagnosis:patient-edit", args=[patient.pk]),
        {"mrn": patient.mrn, "name": patient.name, "date_of_birth": "1946-12-09", "sex": patient.sex},
    )
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.date_of_birth == datetime.date(1946, 12, 9)


def test_logging_out_says_so_on_the_login_page(clinician_client):
    response = clinician_client.post(reverse("logout"), follow=True)
    assert response.request["PATH_INFO"] == reverse("login")
    assert "You have been logged out." in response.content.decode()
    again = clinician_client.get(reverse("login")).content.decode()
    assert "You have been logged out." not in again


def test_case_form_starts_with_no_body_region_and_no_bare_team_label(clinician_client, team):
    patient = PatientFactory(team=team)
    html = clinician_client.get(reverse("diagnosis:case-create", args=[patient.pk])).content.decode()
    region = html[html.index('<select name="body_region"') :]
    region = region[: region.index("</select>")]
    assert '<option value="" selected>' in region, "the first, selected choice must be blank"
    assert "Care team" not in html, "a one-team user gets no team control, so no label either"
    assert f'type="hidden" name="team" value="{team.pk}"' in html
    response = clinician_client.post(reverse("diagnosis:case-create", args=[patient.pk]), {"team": team.pk})
    assert response.status_code == 400 and not Case.objects.exists()


def test_case_form_offers_the_team_choice_to_members_of_several(clinician_client, clinician, team):
    clinician.groups.add(TeamFactory(name="Fracture clinic"))
    patient = PatientFactory(team=team)
    html = clinician_client.get(reverse("diagnosis:case-create", args=[patient.pk])).content.decode()
    assert '<label for="id_team">Care team</label>' in html and "Fracture clinic" in html


def test_worklist_shows_a_case_by_its_most_suspicious_image(clinician_client, team):
    case = CaseFactory(team=team, patient__team=team)
    PredictionFactory(radiograph__case=case, fractured=True, probability=0.41, threshold=0.3)
    PredictionFactory(radiograph__case=case, not_fractured=True, probability=0.13, threshold=0.3)
    html = clinician_client.get(reverse("diagnosis:worklist")).content.decode()
    assert "41%" in html and "13%" not in html
    assert "1 of 2 images suspected" in html


def test_form_upload_of_a_file_already_in_the_case_says_so(
    clinician_client, team, sent_tasks, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    case = CaseFactory(team=team, patient__team=team)
    url = reverse("diagnosis:case-upload", args=[case.pk])
    with django_capture_on_commit_callbacks(execute=True):
        clinician_client.post(url, {"image": SimpleUploadedFile("hand.png", image_bytes("PNG"))})
    html = clinician_client.post(
        url, {"image": SimpleUploadedFile("hand again.png", image_bytes("PNG"))}, follow=True
    ).content.decode()
    assert "hand again.png: This image is already in this case" in html and "not added again" in html
    assert Radiograph.objects.filter(case=case).count() == 1 and len(sent_tasks) == 1
