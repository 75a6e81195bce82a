"""The triage worklist: order, filters, counts, operating point; the admin's team setting."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from diagnosis import selectors, services
from diagnosis.models import Case, TeamSettings
from inference.models import ModelVersion
from tests.factories import CaseFactory, PredictionFactory, UserFactory

pytestmark = pytest.mark.django_db


def _case(team, *, age_hours: int, probability: float | None = None, version: str = "test") -> Case:
    case = CaseFactory(team=team, patient__team=team)
    Case.objects.filter(pk=case.pk).update(created_at=timezone.now() - datetime.timedelta(hours=age_hours))
    if probability is not None:
        label = "fractured" if probability >= 0.5 else "not_fractured"
        PredictionFactory(radiograph__case=case, status="succeeded", label=label, probability=probability,
                          threshold=0.5, model_version=version)  # fmt: skip
    return case


def _order(user, show: str | None = None) -> list[int]:
    return [case.pk for case in selectors.triage_worklist(user=user, show=show)]


def test_unread_first_then_suspicion_then_waiting_time(clinician, team):
    calm_old = _case(team, age_hours=30, probability=0.2)
    suspicious = _case(team, age_hours=1, probability=0.7)
    most_suspicious = _case(team, age_hours=2, probability=0.95)
    calm_new = _case(team, age_hours=3, probability=0.1)
    no_image = _case(team, age_hours=10)
    read = _case(team, age_hours=50, probability=0.99)
    services.review_create(prediction=read.radiographs.get().predictions.get(), user=clinician, read="fracture")
    assert _order(clinician) == [most_suspicious.pk, suspicious.pk, calm_old.pk, no_image.pk, calm_new.pk, read.pk]


def test_the_teams_operating_point_moves_a_case_up(clinician, team):
    ModelVersion.objects.create(version="v1", architecture="t", created_at=timezone.now(),
                                card={"thresholds": {"balanced": 0.5, "high_sensitivity": 0.2}})  # fmt: skip
    borderline = _case(team, age_hours=1, probability=0.3, version="v1")
    waiting = _case(team, age_hours=5, probability=0.1, version="v1")
    assert _order(clinician) == [waiting.pk, borderline.pk]
    assert not selectors.worklist(user=clinician).get(pk=borderline.pk).fracture_suspected
    TeamSettings.objects.create(team=team, operating_point="high_sensitivity")
    assert _order(clinician) == [borderline.pk, waiting.pk]
    row = selectors.worklist(user=clinician).get(pk=borderline.pk)
    assert (row.fracture_suspected, row.suspected_count, row.shown_prediction_point_label) == (True, 1, "fractured")
    assert row.shown_prediction_label == "not_fractured", "the model's own label is kept"
    assert selectors.team_operating_points(user=clinician) == [(team, "high_sensitivity")]


def test_filters_and_counts(clinician, team):
    colleague = UserFactory(teams=[team])
    unread = _case(team, age_hours=1, probability=0.9)
    mine = _case(team, age_hours=2, probability=0.1)
    Case.objects.filter(pk=mine.pk).update(created_by=clinician)
    signed = _case(team, age_hours=3, probability=0.8)
    services.case_sign_off(case=signed, user=colleague, impression="Fracture.", final_status="fracture")
    read_by_me = _case(team, age_hours=4, probability=0.2)
    services.review_create(prediction=read_by_me.radiographs.get().predictions.get(), user=clinician, read="uncertain")
    assert set(_order(clinician, "unread")) == {unread.pk, mine.pk}
    assert set(_order(clinician, "suspected")) == {unread.pk, signed.pk}
    assert _order(clinician, "signed_off") == [signed.pk]
    assert set(_order(clinician, "mine")) == {mine.pk, read_by_me.pk}
    assert selectors.worklist_counts(user=clinician) == {
        "all": 4, "unread": 2, "suspected": 2, "signed_off": 1, "mine": 2,
    }  # fmt: skip
    assert selectors.worklist_counts(user=colleague)["mine"] == 1


def test_another_team_sees_nothing_and_counts_nothing(outsider, team):
    _case(team, age_hours=1, probability=0.9)
    assert _order(outsider) == [] and selectors.worklist_counts(user=outsider)["all"] == 0


def test_worklist_page_counts_filters_operating_point_and_fragment(clinician_client, clinician, team):
    suspected = _case(team, age_hours=1, probability=0.9)
    _case(team, age_hours=2, probability=0.1)
    html = clinician_client.get("/").content.decode()
    assert (
        '<span class="count">2</span>' in html
        and "Operating point in use: <strong>Emergency</strong>: balanced" in html
    )
    assert "Unread" in html and 'data-fragment-url="/?fragment=1"' in html
    only = clinician_client.get("/", {"show": "suspected"}).content.decode()
    assert suspected.patient.name in only and only.count("data-case=") == 1
    fragment = clinician_client.get("/", {"fragment": "1", "show": "suspected"}).content.decode()
    assert "<html" not in fragment and fragment.count("data-case=") == 1
    assert clinician_client.get("/", {"show": "bogus"}).content.decode().count("data-case=") == 2


def test_admin_sets_a_teams_operating_point(client, team):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get(f"/admin/auth/group/{team.pk}/change/")
    assert page.status_code == 200 and b"high_sensitivity" in page.content
    data = {"name": team.name, "settings-TOTAL_FORMS": "1", "settings-INITIAL_FORMS": "0",
            "settings-0-operating_point": "high_sensitivity"}  # fmt: skip
    response = client.post(f"/admin/auth/group/{team.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert selectors.team_operating_point(team=team) == "high_sensitivity"
    assert b"High sensitivity" in client.get("/admin/auth/group/").content
