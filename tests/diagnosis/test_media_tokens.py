"""``image_url`` and ``overlay_url`` serve API clients with their token, scoped like the API:
another team's token gets 404, a bad token 401 JSON, a browser without a log-in the log-in page."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from diagnosis.audit import Action
from diagnosis.models import AuditEvent
from tests.factories import CaseFactory, PredictionFactory, image_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def record(team):
    """A prediction with a heat map, in ``team``'s case."""
    prediction = PredictionFactory(fractured=True, radiograph__case__team=team, radiograph__case__patient__team=team)
    prediction.overlay.save("overlay.png", ContentFile(image_bytes(size=(32, 24))), save=True)
    return prediction


def _token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def _media_urls(prediction) -> list[str]:
    return [f"/radiographs/{prediction.radiograph_id}/image/", f"/predictions/{prediction.pk}/overlay/"]


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_an_integrator_fetches_the_uploaded_image_and_the_heat_map_with_its_token(
    api_client, clinician, team, sent_tasks
):
    case = CaseFactory(team=team)
    sent = image_bytes(size=(40, 30), variant=7)
    upload = SimpleUploadedFile("wrist.png", sent, content_type="image/png")
    radiograph = api_client.post(f"/api/v1/cases/{case.pk}/radiographs/", {"image": upload}, format="multipart").json()
    image = api_client.get(radiograph["image_url"])
    assert image.status_code == 200 and image["Content-Type"] == "image/png" and _body(image) == sent
    event = AuditEvent.objects.filter(action=Action.VIEW_IMAGE).get()
    assert (event.actor, event.object_id) == (clinician, str(radiograph["id"])), "recorded against the token's user"

    prediction = api_client.get(radiograph["prediction"]["url"]).json()
    assert prediction["overlay_url"] is None  # queued: no heat map yet


def test_the_overlay_url_of_a_prediction_serves_its_png_to_the_token(api_client, record):
    overlay_url = api_client.get(f"/api/v1/predictions/{record.pk}/").json()["overlay_url"]
    response = api_client.get(overlay_url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert _body(response).startswith(b"\x89PNG") and response["Cache-Control"] == "private, max-age=3600"


def test_another_teams_token_gets_404(outsider, record):
    client = _token_client(outsider)
    for url in _media_urls(record):
        assert client.get(url).status_code == 404, url
    assert not AuditEvent.objects.filter(action=Action.VIEW_IMAGE).exists()


@pytest.mark.parametrize("header", ["Token not-a-real-key", "Token", "token a b"])
def test_a_bad_token_is_401_json_even_beside_a_log_in(client, clinician, record, header):
    client.force_login(clinician)  # the API answers a bad token with 401 even beside a session: so do these
    for url in _media_urls(record):
        response = client.get(url, HTTP_AUTHORIZATION=header)
        assert response.status_code == 401, url
        assert response["Content-Type"] == "application/json" and response["WWW-Authenticate"] == "Token"
        assert set(response.json()) == {"detail"}


def test_an_inactive_users_token_is_401(clinician, record):
    client = _token_client(clinician)
    clinician.is_active = False
    clinician.save()
    assert client.get(_media_urls(record)[0]).status_code == 401


def test_a_browser_without_a_log_in_or_token_is_sent_to_log_in(client, record):
    for url in _media_urls(record):
        response = client.get(url, HTTP_AUTHORIZATION="Basic ZHJfYWRhOng=")  # not a token: the browser path
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url
