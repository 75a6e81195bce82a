"""The admin is no second write path: patients and cases are added and changed through the
records services (same rule, validation and audit as the web and API), and a record's team is
fixed once filed."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from diagnosis.audit import Action
from diagnosis.models import AuditEvent, Case, Patient
from tests.factories import CaseFactory, PatientFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(team):
    user = UserFactory(username="registrar", is_staff=True, teams=[team])
    codenames = [f"{verb}_{model}" for verb in ("add", "change", "view") for model in ("patient", "case")]
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def _events(action: str, obj) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, object_type=obj._meta.model_name, object_id=str(obj.pk)))


def test_patient_added_in_the_admin_is_created_and_audited_by_the_service(staff_client, staff, team):
    data = {"mrn": " AD-1 ", "name": "Ada Lovelace", "date_of_birth": "1980-05-17", "sex": "female", "team": team.pk}
    response = staff_client.post("/admin/diagnosis/patient/add/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    patient = Patient.objects.get(mrn="AD-1")
    assert (patient.team, patient.created_by) == (team, staff)
    (event,) = _events(Action.CREATE, patient)
    assert event.actor == staff and event.team == team


def test_admin_refuses_a_team_the_staff_member_cannot_file_under(staff_client):
    other = TeamFactory(name="Elsewhere")
    data = {"mrn": "AD-2", "name": "Ada", "date_of_birth": "1980-05-17", "sex": "female", "team": other.pk}
    response = staff_client.post("/admin/diagnosis/patient/add/", data)
    assert response.status_code == 200 and "team" in response.context["adminform"].form.errors
    assert not Patient.objects.filter(mrn="AD-2").exists()


def test_patient_change_is_an_audited_edit_and_the_team_is_read_only(staff_client, staff, team):
    patient = PatientFactory(team=team, name="Old Name")
    page = staff_client.get(f"/admin/diagnosis/patient/{patient.pk}/change/")
    assert page.status_code == 200 and "team" not in page.context["adminform"].form.fields
    data = {
        "mrn": patient.mrn,
        "name": "New Name",
        "date_of_birth": patient.date_of_birth.isoformat(),
        "sex": patient.sex,
        "team": TeamFactory(name="Elsewhere").pk,  # ignored: read-only
    }
    assert staff_client.post(f"/admin/diagnosis/patient/{patient.pk}/change/", data).status_code == 302
    patient.refresh_from_db()
    assert (patient.name, patient.team) == ("New Name", team)
    (event,) = _events(Action.EDIT, patient)
    assert event.actor == staff and event.extra["fields"] == ["name"]


def test_case_added_in_the_admin_goes_through_case_create(staff_client, staff, team):
    patient = PatientFactory(team=team)
    page = staff_client.get("/admin/diagnosis/case/add/")
    assert "status" not in page.context["adminform"].form.fields  # a case is opened open
    data = {"patient": patient.pk, "team": team.pk, "body_region": "wrist", "clinical_question": " Fall. "}
    response = staff_client.post("/admin/diagnosis/case/add/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    case = Case.objects.get(patient=patient)
    assert (case.team, case.created_by, case.status, case.clinical_question) == (team, staff, "open", "Fall.")
    assert _events(Action.CREATE, case)[0].actor == staff


def test_case_change_keeps_patient_and_team_and_is_audited(staff_client, staff, team):
    case = CaseFactory(team=team, patient__team=team)
    page = staff_client.get(f"/admin/diagnosis/case/{case.pk}/change/")
    fields = page.context["adminform"].form.fields
    assert "team" not in fields and "patient" not in fields and "status" in fields
    data = {
        "body_region": case.body_region,
        "clinical_question": case.clinical_question,
        "status": "closed",
        "team": TeamFactory(name="Elsewhere").pk,
        "patient": PatientFactory().pk,
        "radiographs-TOTAL_FORMS": "0",
        "radiographs-INITIAL_FORMS": "0",
    }
    response = staff_client.post(f"/admin/diagnosis/case/{case.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    before_patient = case.patient_id
    case.refresh_from_db()
    assert (case.status, case.team, case.patient_id) == ("closed", team, before_patient)
    (event,) = _events(Action.EDIT, case)
    assert event.actor == staff and event.extra["fields"] == ["status"]
