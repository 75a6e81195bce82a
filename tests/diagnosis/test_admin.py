"""Admin: pages render for auditors, AI outputs and originals are read-only, lists are scoped."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from tests.factories import PredictionFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_with_data(client):
    prediction = PredictionFactory(fractured=True)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client, prediction


@pytest.mark.parametrize("model", ["patient", "case", "radiograph", "prediction"])
def test_changelists_render_with_filters_and_search(admin_client_with_data, model):
    client, prediction = admin_client_with_data
    response = client.get(f"/admin/diagnosis/{model}/", {"q": prediction.radiograph.case.patient.mrn})
    assert response.status_code == 200
    assert b"0 results" not in response.content


def test_radiograph_list_shows_authenticated_thumbnail(admin_client_with_data):
    client, prediction = admin_client_with_data
    response = client.get("/admin/diagnosis/radiograph/")
    assert f'/radiographs/{prediction.radiograph.pk}/image/?thumb=1"'.encode() in response.content


def test_predictions_cannot_be_added_changed_or_deleted(admin_client_with_data):
    client, prediction = admin_client_with_data
    assert client.get("/admin/diagnosis/prediction/add/").status_code == 403
    detail = client.get(f"/admin/diagnosis/prediction/{prediction.pk}/change/")
    assert detail.status_code == 200 and b'name="probability"' not in detail.content
    assert client.post(f"/admin/diagnosis/prediction/{prediction.pk}/delete/").status_code == 403
    assert client.get("/admin/diagnosis/radiograph/add/").status_code == 403


def test_rerun_action_queues_a_new_prediction(admin_client_with_data):
    client, prediction = admin_client_with_data
    data = {"action": "request_new_prediction", "_selected_action": [prediction.radiograph.pk]}
    client.post("/admin/diagnosis/radiograph/", data)
    assert prediction.radiograph.predictions.count() == 2


def test_staff_without_superuser_sees_only_their_teams(client, team):
    mine = PredictionFactory(radiograph__case__team=team)
    PredictionFactory()
    staff = UserFactory(is_staff=True, teams=[team])
    staff.user_permissions.add(
        *Permission.objects.filter(codename__startswith="view_", content_type__app_label="diagnosis")
    )
    client.force_login(staff)
    response = client.get("/admin/diagnosis/prediction/")
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [mine]
