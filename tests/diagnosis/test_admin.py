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


def test_prediction_probabilities_are_percentages_with_one_decimal(admin_client_with_data):
    client, _ = admin_client_with_data
    prediction = PredictionFactory(fractured=True, probability=0.41234, threshold=0.0928026)
    listing = client.get("/admin/diagnosis/prediction/").content.decode()
    assert "41.2%" in listing and "9.3%" in listing and "0.41234" not in listing
    detail = client.get(f"/admin/diagnosis/prediction/{prediction.pk}/change/").content.decode()
    assert "41.2%" in detail and "9.3%" in detail and "0.41234" not in detail and "0.0928026" not in detail
    inline = client.get(f"/admin/diagnosis/radiograph/{prediction.radiograph.pk}/change/").content.decode()
    assert "41.2%" in inline and "0.41234" not in inline


def _level(auroc: float, sensitivity: float, specificity: float) -> dict:
    point = {"sensitivity": sensitivity, "specificity": specificity}
    return {"auroc": auroc, "at_threshold": {"balanced": point, "high_sensitivity": point}}


CARD = {  # the shape `retrain` writes (training/cards.py), figures made up
    "version": "20261128-065535-default", "created_at": "2026-11-28T06:55:35+00:00", "architecture": "default",
    "parameters": 220193, "model_file_bytes": 1136749, "serving_file": "model.tflite",
    "input": {"size": 160, "color": "grey", "resize": "letterbox"},
    "thresholds": {"balanced": 0.0928026, "high_sensitivity": 0.0511}, "default_threshold": "balanced",
    "recipe": {"epochs": 24},
    "data": {"counts": {"test": {"fractured": 177, "not_fractured": 207, "groups": 36}}},
    "leakage": {"leakage_found": False},
    "metrics": {
        "test": {
            "n_images": 384, "n_groups": 36, "auroc": 0.7699, "auroc_ci95": [0.4661, 0.9872],
            "group_auroc": 0.94196, "group_auroc_ci95": [0.8444, 1.0],
            "per_image": _level(0.7699, 0.6893, 0.6425), "per_group": _level(0.94196, 0.9286, 0.625),
        },
    },
    "training": {"members": [{"seed": 0, "epochs_run": 24, "selected_epoch": 19}], "wall_seconds": 1090.9,
                 "cpu_count": 2, "selection": "best val score"},
}  # fmt: skip


@pytest.fixture
def model_version(db):
    from inference.services import model_version_register

    return model_version_register(card=CARD)


def test_model_versions_cannot_be_deleted(admin_client_with_data, model_version):
    client, _ = admin_client_with_data
    assert client.get(f"/admin/inference/modelversion/{model_version.pk}/delete/").status_code == 403
    assert client.post(f"/admin/inference/modelversion/{model_version.pk}/delete/", {"post": "yes"}).status_code == 403
    listing = client.get("/admin/inference/modelversion/")
    assert "delete_selected" not in listing.content.decode()
    data = {"action": "delete_selected", "_selected_action": [model_version.pk], "post": "yes"}
    client.post("/admin/inference/modelversion/", data)
    assert type(model_version).objects.filter(pk=model_version.pk).exists()


def test_model_version_page_is_a_readable_card_with_the_json_folded(admin_client_with_data, model_version):
    client, _ = admin_client_with_data
    html = client.get(f"/admin/inference/modelversion/{model_version.pk}/change/").content.decode()
    summary = html[html.index('class="model-card"') : html.index("Raw model card (JSON)")]
    expected = ["AUROC per group", "0.942 [0.844, 1.000]", "0.770 [0.466, 0.987]", "balanced: 0.689 / 0.643",
                "0.0928 (default)", "160 \u00d7 160 px, grey", "24 epochs", "epoch 19 kept", "18.2 min on 2 CPUs",
                "none found", "test 177 fractured"]  # fmt: skip
    for text in expected:
        assert text in summary, text
    assert '"auroc_ci95"' not in summary, "the summary is not the raw JSON"
    folded = html[html.index("Raw model card (JSON)") - 400 :]
    assert "collapse" in folded or "<details" in folded
