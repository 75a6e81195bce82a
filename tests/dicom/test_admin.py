"""Admin of the DICOM node: superusers map calling AEs to teams; instances and flags are read-only."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile

from diagnosis.models import DicomCallingAE
from diagnosis.services.dicom_filing import dicom_receive
from tests.dicom import builders
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_superuser_maps_a_calling_ae_to_a_team(client, team):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    response = client.post(
        "/admin/diagnosis/dicomcallingae/add/",
        {"ae_title": "XR-ROOM-3", "team": team.pk, "description": "Emergency X-ray room 3", "enabled": "on"},
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    mapping = DicomCallingAE.objects.get()
    assert (mapping.ae_title, mapping.team, mapping.created_by) == ("XR-ROOM-3", team, admin)


def test_staff_who_are_not_superusers_cannot_route_studies(client, team):
    staff = UserFactory(is_staff=True, teams=[team])
    staff.user_permissions.add(*Permission.objects.filter(codename__endswith="dicomcallingae"))
    client.force_login(staff)
    assert client.get("/admin/diagnosis/dicomcallingae/").status_code == 403
    assert client.get("/admin/diagnosis/dicomcallingae/add/").status_code == 403


def test_instances_and_flags_are_listed_read_only(client, team, patient):
    dicom_receive(team=team, file=ContentFile(builders.dicom_bytes(patient_name="X^Y"), name="a.dcm"))
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    for model in ("dicominstance", "caseflag"):
        listing = client.get(f"/admin/diagnosis/{model}/")
        assert listing.status_code == 200 and b"0 results" not in listing.content
        assert client.get(f"/admin/diagnosis/{model}/add/").status_code == 403
