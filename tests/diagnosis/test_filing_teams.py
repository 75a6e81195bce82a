"""One filing rule on every path: a superuser may file under every team, anyone else under their own."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import AnonymousUser, Permission
from django.core.exceptions import ValidationError

from diagnosis import selectors, services
from diagnosis.models import Patient
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

DOB = datetime.date(1980, 5, 17)


@pytest.fixture
def teams(team):
    return [team, TeamFactory(name="Orthopaedics"), TeamFactory(name="Radiology")]


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True, teams=[])


@pytest.fixture
def staff(team):
    """Staff of one team with the admin permissions to register patients and cases."""
    user = UserFactory(username="staff", is_staff=True, teams=[team])
    codenames = [f"{verb}_{model}" for verb in ("add", "change", "view") for model in ("patient", "case")]
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def test_superuser_files_under_every_team_others_under_their_own(teams, superuser, clinician):
    assert list(selectors.filing_teams(user=superuser)) == sorted(teams, key=lambda t: t.name)
    assert list(selectors.filing_teams(user=clinician)) == [teams[0]]
    clinician.is_active = False
    assert list(selectors.filing_teams(user=clinician)) == []
    assert list(selectors.filing_teams(user=AnonymousUser())) == []


def test_web_form_offers_the_same_teams(client, teams, superuser, clinician):
    client.force_login(superuser)
    response = client.get("/patients/new/")
    assert set(response.context["form"].fields["team"].queryset) == set(teams)
    client.force_login(clinician)
    response = client.get("/patients/new/")
    assert set(response.context["form"].fields["team"].queryset) == {teams[0]}


def test_superuser_without_memberships_can_register_through_the_web_form(client, teams, superuser):
    """Before one rule, the web form refused a superuser the API and admin accepted."""
    client.force_login(superuser)
    data = {"mrn": "W1", "name": "Ada", "date_of_birth": "1980-05-17", "sex": "female", "team": teams[2].pk}
    assert client.post("/patients/new/", data).status_code == 302
    assert Patient.objects.get(mrn="W1").team == teams[2]


@pytest.mark.parametrize(("who", "allowed"), [("superuser", True), ("clinician", False)])
def test_api_and_service_follow_the_rule(teams, superuser, clinician, who, allowed):
    from rest_framework.test import APIClient

    user = {"superuser": superuser, "clinician": clinician}[who]
    api = APIClient()
    api.force_authenticate(user)
    body = {"mrn": f"A-{who}", "name": "Ada", "date_of_birth": "1980-05-17", "team": teams[1].pk}
    assert api.post("/api/v1/patients/", body, format="json").status_code == (201 if allowed else 400)
    if allowed:
        services.patient_create(user=user, team=teams[2], mrn=f"S-{who}", name="Ada", date_of_birth=DOB)
    else:
        with pytest.raises(ValidationError, match="not a member"):
            services.patient_create(user=user, team=teams[2], mrn=f"S-{who}", name="Ada", date_of_birth=DOB)


def test_admin_team_choices_follow_the_rule(client, teams, superuser, staff):
    client.force_login(superuser)
    form = client.get("/admin/diagnosis/patient/add/").context["adminform"].form
    assert set(form.fields["team"].queryset) == set(teams)
    client.force_login(staff)
    for page in ("/admin/diagnosis/patient/add/", "/admin/diagnosis/case/add/"):
        form = client.get(page).context["adminform"].form
        assert set(form.fields["team"].queryset) == {teams[0]}, page


def test_one_team_open_to_the_user_is_the_default(teams, clinician, superuser):
    assert services.patient_create(user=clinician, mrn="D1", name="Ada", date_of_birth=DOB).team == teams[0]
    with pytest.raises(ValidationError, match="Choose the care team"):
        services.patient_create(user=superuser, mrn="D2", name="Ada", date_of_birth=DOB)
