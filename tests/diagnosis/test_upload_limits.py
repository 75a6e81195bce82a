"""The size policy in one place: one limit, one message, the same on the case page, the form and the API."""

from __future__ import annotations

import html

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile

from diagnosis import upload_limits
from diagnosis.api.exceptions import PayloadTooLarge, error_body
from diagnosis.models import Radiograph
from tests.factories import CaseFactory, image_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(team):
    return CaseFactory(team=team, patient__team=team)


@pytest.mark.parametrize(
    ("limit", "message"),
    [
        (50 * 1024 * 1024, "The file is larger than the 50 MB limit."),
        (100 * 1024, "The file is larger than the 100 KB limit."),
        (999, "The file is larger than the 999 bytes limit."),
    ],
)
def test_the_message_follows_the_one_setting(settings, limit, message):
    settings.FRACTURE_MAX_UPLOAD_BYTES = limit
    assert upload_limits.max_upload_bytes() == limit
    assert upload_limits.too_large_message() == message
    assert not upload_limits.is_too_large(limit) and upload_limits.is_too_large(limit + 1)


def test_web_page_form_and_api_say_the_same_413_text(case, clinician_client, api_client, settings):
    settings.FRACTURE_MAX_UPLOAD_BYTES = 100 * 1024  # the request is within the margin: the handler decides
    expected = "The file is larger than the 100 KB limit."
    page = clinician_client.get(f"/cases/{case.pk}/").content.decode()
    assert f'data-too-large="{expected}"' in html.unescape(page)

    big = image_bytes("PNG") + b"\0" * (150 * 1024)
    web = clinician_client.post(f"/cases/{case.pk}/upload/", {"image": SimpleUploadedFile("big.png", big)})
    assert [str(m) for m in get_messages(web.wsgi_request)] == [f"big.png: {expected}"]

    api = api_client.post(f"/api/v1/cases/{case.pk}/radiographs/", {"image": SimpleUploadedFile("big.png", big)})
    assert api.status_code == 413 and api.json() == {"detail": expected}
    assert Radiograph.objects.count() == 0


def test_declared_length_far_over_the_limit_is_413_before_parsing(case, api_client, settings):
    settings.FRACTURE_MAX_UPLOAD_BYTES = 1024
    body = image_bytes("PNG") + b"\0" * (upload_limits.MULTIPART_MARGIN + 4096)
    response = api_client.post(f"/api/v1/cases/{case.pk}/radiographs/", {"image": SimpleUploadedFile("b.png", body)})
    assert response.status_code == 413 and response.json() == {"detail": "The file is larger than the 1 KB limit."}


def test_an_invisible_case_is_404_not_413(api_client, outsider, settings):
    settings.FRACTURE_MAX_UPLOAD_BYTES = 1024
    case = CaseFactory()
    body = image_bytes("PNG") + b"\0" * 200_000
    response = api_client.post(f"/api/v1/cases/{case.pk}/radiographs/", {"image": SimpleUploadedFile("b.png", body)})
    assert response.status_code == 404


def test_json_body_over_the_request_limit_is_the_same_413_exception(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = api_client.post("/api/v1/patients/", '{"name": "' + "x" * 4096 + '"}', content_type="application/json")
    assert response.status_code == 413
    assert response.json() == error_body(str(PayloadTooLarge.default_detail))


def test_error_body_is_detail_plus_extras():
    assert error_body("Nope.") == {"detail": "Nope."}
    assert error_body("Seen.", code="duplicate") == {"detail": "Seen.", "code": "duplicate"}
