"""Heat-map overlays: stored by the worker beside the prediction, served team-scoped, in the API."""

from __future__ import annotations

import datetime
import io

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from diagnosis import tasks
from diagnosis.models import Prediction
from tests.factories import PredictionFactory, RadiographFactory, image_bytes

pytestmark = pytest.mark.django_db

Status = Prediction.Status


def _patch_radiograph(**kwargs):
    """A 48x64 PNG with a bright square near its top-left corner."""
    pixels = np.full((64, 48), 20, dtype=np.uint8)
    pixels[6:18, 4:16] = 230
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return RadiographFactory(content=out.getvalue(), width=48, height=64, **kwargs)


def _stored_overlays() -> list[str]:
    found = []

    def walk(folder: str) -> None:
        if not default_storage.exists(folder):
            return
        dirs, files = default_storage.listdir(folder)
        found.extend(f"{folder}/{name}" for name in files)
        for name in dirs:
            walk(f"{folder}/{name}")

    walk("overlays")
    return found


def test_the_worker_stores_a_small_transparent_png_beside_the_prediction(cam_model):
    prediction = PredictionFactory(radiograph=_patch_radiograph())
    tasks.predict.run(prediction.pk)
    prediction.refresh_from_db()
    assert prediction.status == Status.SUCCEEDED, prediction.error
    assert prediction.model_version == cam_model and prediction.overlay.name.startswith("overlays/")
    with prediction.overlay.open("rb") as handle:
        png = Image.open(io.BytesIO(handle.read()))
    assert png.format == "PNG" and png.mode == "P" and png.size == (96, 128)  # the picture's 3:4, 128 px
    alpha = np.frombuffer(png.info["transparency"], dtype=np.uint8)[np.asarray(png)]
    assert (alpha == 0).any(), "cold regions are transparent"
    hot = np.unravel_index(np.argmax(alpha), alpha.shape)
    assert hot[0] < 64 and hot[1] < 48, f"the map's hottest point {hot} lies in the square's quarter"


def test_a_version_without_a_cam_block_stores_no_overlay(tiny_model):
    prediction = PredictionFactory()
    tasks.predict.run(prediction.pk)
    prediction.refresh_from_db()
    assert prediction.status == Status.SUCCEEDED and not prediction.overlay


def test_a_run_taken_over_midway_discards_its_png(cam_model, monkeypatch):
    from inference.predictor import get_predictor

    prediction = PredictionFactory(radiograph=_patch_radiograph())
    predictor = get_predictor()
    real_predict = predictor.predict_images

    def taken_over_while_running(images):
        later = timezone.now() + datetime.timedelta(seconds=1)
        Prediction.objects.filter(pk=prediction.pk).update(started_at=later, attempts=2)
        return real_predict(images)

    monkeypatch.setattr(predictor, "predict_images", taken_over_while_running)
    tasks.predict.run(prediction.pk)
    prediction.refresh_from_db()
    assert (prediction.status, prediction.overlay.name) == (Status.RUNNING, "")
    assert _stored_overlays() == [], "the dropped run's PNG is deleted from storage"


def _with_overlay(team) -> Prediction:
    prediction = PredictionFactory(fractured=True, radiograph__case__team=team, radiograph__case__patient__team=team)
    prediction.overlay.save("overlay.png", ContentFile(image_bytes()), save=True)
    return prediction


def test_overlay_url_is_in_the_prediction_and_serves_the_png(api_client, clinician_client, team):
    prediction = _with_overlay(team)
    body = api_client.get(f"/api/v1/predictions/{prediction.pk}/").json()
    assert body["overlay_url"] == f"http://testserver/predictions/{prediction.pk}/overlay/"
    response = clinician_client.get(body["overlay_url"])  # the log-in session, like image_url
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "private, max-age=3600"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")


def test_overlay_url_is_null_without_a_heat_map(api_client, clinician_client, team):
    prediction = PredictionFactory(fractured=True, radiograph__case__team=team, radiograph__case__patient__team=team)
    assert api_client.get(f"/api/v1/predictions/{prediction.pk}/").json()["overlay_url"] is None
    assert clinician_client.get(f"/predictions/{prediction.pk}/overlay/").status_code == 404


def test_another_team_gets_404_for_the_overlay(client, outsider, team):
    prediction = _with_overlay(team)
    client.force_login(outsider)
    assert client.get(f"/predictions/{prediction.pk}/overlay/").status_code == 404
    client.logout()
    assert client.get(f"/predictions/{prediction.pk}/overlay/").status_code == 302  # to the log-in page


def test_the_schema_documents_overlay_url(api_client):
    schema = api_client.get("/api/v1/schema/?format=json").json()
    field = schema["components"]["schemas"]["PredictionOutput"]["properties"]["overlay_url"]
    assert field["nullable"] is True and field["format"] == "uri" and "not a fracture outline" in field["description"]


def test_viewing_a_heat_map_is_audited_and_a_lost_file_is_404(clinician_client, team):
    from diagnosis.models import AuditEvent

    prediction = _with_overlay(team)
    response = clinician_client.get(f"/predictions/{prediction.pk}/overlay/")
    assert response.status_code == 200
    event = AuditEvent.objects.get(action=AuditEvent.Action.VIEW_IMAGE, object_type="prediction")
    assert event.object_id == str(prediction.pk) and event.extra == {"kind": "heat map"}

    default_storage.delete(prediction.overlay.name)  # lost from storage: not a server error
    assert clinician_client.get(f"/predictions/{prediction.pk}/overlay/").status_code == 404
    assert AuditEvent.objects.filter(action=AuditEvent.Action.VIEW_IMAGE).count() == 1


def test_the_page_says_why_a_succeeded_prediction_has_no_heat_map(clinician_client, team):
    from inference.models import ModelVersion

    prediction = PredictionFactory(fractured=True, radiograph__case__team=team, radiograph__case__patient__team=team)
    page = f"/radiographs/{prediction.radiograph_id}/"
    assert "No heat map is available for this model version." in clinician_client.get(page).content.decode()
    ModelVersion.objects.create(
        version=prediction.model_version, architecture="default", created_at=timezone.now(), card={"cam": {}}
    )
    assert "The heat map could not be drawn for this image." in clinician_client.get(page).content.decode()
