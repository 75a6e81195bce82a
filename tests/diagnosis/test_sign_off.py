"""Case sign-off (service, selector, pages), the printable report and the team's operating point."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404

from diagnosis import selectors, services
from diagnosis.models import AppendOnly, AuditEvent, SignOff, TeamSettings
from inference.models import ModelVersion
from tests.factories import CaseFactory, PredictionFactory, RadiographFactory, UserFactory, image_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(team):
    return CaseFactory(team=team, patient__team=team)


def test_sign_off_is_recorded_audited_and_amended_not_overwritten(case, clinician, team):
    first = services.case_sign_off(
        case=case, user=clinician, impression=" Undisplaced scaphoid waist. ", final_status="fracture"
    )
    assert (first.impression, first.signed_by) == ("Undisplaced scaphoid waist.", clinician)
    event = AuditEvent.objects.get(action="sign_off")
    assert (event.object_type, event.object_id, event.team_id, event.extra) == (
        "signoff",
        str(first.pk),
        team.pk,
        {"final_status": "fracture"},
    )
    second = services.case_sign_off(case=case, user=UserFactory(teams=[team]), impression="No fracture on review.",
                                    final_status="no_fracture")  # fmt: skip
    assert list(selectors.sign_off_history(user=clinician, case=case)) == [second, first]
    assert selectors.case_get(user=clinician, pk=case.pk).current_sign_off == second
    with pytest.raises(AppendOnly):
        SignOff.objects.filter(pk=first.pk).update(final_status="no_fracture")
    with pytest.raises(AppendOnly):
        first.delete()


def test_sign_off_needs_an_impression_and_a_known_status(case, clinician):
    with pytest.raises(ValidationError) as error:
        services.case_sign_off(case=case, user=clinician, impression="  ", final_status="maybe")
    assert set(error.value.message_dict) == {"impression", "final_status"}
    assert not SignOff.objects.exists()


def test_another_team_cannot_sign_off(case, outsider):
    with pytest.raises(Http404):
        services.case_sign_off(case=case, user=outsider, impression="x", final_status="fracture")
    assert selectors.sign_off_history(user=outsider, case=case).count() == 0


def test_case_page_shows_each_images_ai_opinion_read_and_the_sign_off(clinician_client, clinician, case):
    prediction = PredictionFactory(fractured=True, radiograph__case=case)
    services.review_create(prediction=prediction, user=clinician, read="no_fracture")
    PredictionFactory(radiograph=RadiographFactory(case=case, content=image_bytes(variant=2)))
    response = clinician_client.post(f"/cases/{case.pk}/sign-off/", {"impression": "Soft tissue only.",
                                                                      "final_status": "no_fracture"})  # fmt: skip
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.pk}/"
    html = clinician_client.get(f"/cases/{case.pk}/").content.decode()
    assert "Suspected fracture" in html and "No fracture</span>" in html and "disagrees" in html
    assert "Not read yet" in html and "Soft tissue only." in html and "signed off by dr_ada" in html
    assert "Amend sign-off" in html and "Operating point of Emergency: <strong>Balanced</strong>" in html


def test_sign_off_form_errors_are_a_400(clinician_client, case):
    response = clinician_client.post(f"/cases/{case.pk}/sign-off/", {"impression": ""})
    assert response.status_code == 400 and b"This field is required" in response.content
    assert not SignOff.objects.exists()


def test_report_has_thumbnails_ai_opinion_model_point_reads_and_the_notice(clinician_client, clinician, case):
    prediction = PredictionFactory(fractured=True, radiograph__case=case, model_version="v-report")
    services.review_create(prediction=prediction, user=clinician, read="fracture", note="distal radius")
    html = clinician_client.get(f"/cases/{case.pk}/report/").content.decode()
    assert "Not signed off:" in html
    services.case_sign_off(case=case, user=clinician, impression="Distal radius fracture.", final_status="fracture")
    response = clinician_client.get(f"/cases/{case.pk}/report/")
    html = response.content.decode()
    assert response.status_code == 200
    assert f"/radiographs/{prediction.radiograph_id}/image/?thumb=1" in html
    assert "Fracture suspected</strong>, probability 90%" in html and "Model v-report" in html
    assert "operating point balanced (threshold 0.50)" in html
    assert "distal radius" in html and "Distal radius fracture." in html
    assert "Decision support only: not a diagnosis." in html and "data-print" in html
    assert AuditEvent.objects.filter(action="view_case", extra__report=True).count() == 2


# Operating point ------------------------------------------------------------------------------


def _card(version: str, balanced: float, high: float) -> None:
    ModelVersion.objects.create(version=version, architecture="test", created_at="2026-11-28T00:00:00Z",
                                card={"thresholds": {"balanced": balanced, "high_sensitivity": high}})  # fmt: skip


def test_the_badge_follows_the_teams_operating_point(clinician, team, case):
    _card("v1", balanced=0.5, high=0.2)
    prediction = PredictionFactory(radiograph__case=case, status="succeeded", label="not_fractured", probability=0.3,
                                   threshold=0.5, model_version="v1")  # fmt: skip
    shown = selectors.prediction_get(user=clinician, pk=prediction.pk)
    assert (shown.operating_point, shown.operating_threshold, shown.label_at_point) == (
        "balanced",
        0.5,
        "not_fractured",
    )
    TeamSettings.objects.create(team=team, operating_point="high_sensitivity")
    shown = selectors.prediction_get(user=clinician, pk=prediction.pk)
    assert (shown.operating_point, shown.operating_threshold, shown.label_at_point) == ("high_sensitivity", 0.2,
                                                                                        "fractured")  # fmt: skip
    assert shown.label == "not_fractured", "the model's own output is kept as it was"
    assert selectors.team_operating_point(team=team) == "high_sensitivity"


def test_an_unregistered_version_reads_at_its_own_threshold(clinician, case):
    prediction = PredictionFactory(radiograph__case=case, fractured=True, model_version="not-registered")
    shown = selectors.prediction_get(user=clinician, pk=prediction.pk)
    assert (shown.operating_threshold, shown.label_at_point) == (0.5, "fractured")


def test_api_carries_the_operating_point_beside_the_models_label(api_client, team, case):
    _card("v2", balanced=0.5, high=0.25)
    TeamSettings.objects.create(team=team, operating_point="high_sensitivity")
    prediction = PredictionFactory(radiograph__case=case, status="succeeded", label="not_fractured", probability=0.3,
                                   threshold=0.5, model_version="v2")  # fmt: skip
    body = api_client.get(f"/api/v1/predictions/{prediction.pk}/").json()
    assert {
        k: body[k] for k in ("label", "threshold", "operating_point", "operating_threshold", "label_at_operating_point")
    } == {
        "label": "not_fractured",
        "threshold": 0.5,
        "operating_point": "high_sensitivity",
        "operating_threshold": 0.25,
        "label_at_operating_point": "fractured",
    }
