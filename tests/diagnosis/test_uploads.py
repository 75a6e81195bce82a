"""radiograph_upload and upload validation: good files stored safely, bad files leave nothing behind."""

from __future__ import annotations

import logging
import struct
import zlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from kombu.exceptions import OperationalError as BrokerError

from diagnosis import services
from diagnosis.models import Case, Prediction, Radiograph
from diagnosis.validation import UploadRejected, sanitise_filename
from tests.factories import CaseFactory, image_bytes

pytestmark = pytest.mark.django_db


def _stored_files(settings) -> list[Path]:
    return [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge canvas: a decompression bomb caught before decoding."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.fixture
def case(clinician, team):
    return CaseFactory(team=team, patient__team=team)


def test_upload_stores_original_under_random_name_with_queued_prediction(
    case, clinician, png_upload, sent_tasks, settings, django_capture_on_commit_callbacks
):
    original = png_upload.read()
    png_upload.seek(0)
    with django_capture_on_commit_callbacks(execute=True):
        radiograph = services.radiograph_upload(case=case, file=png_upload, user=clinician)

    assert (radiograph.format, radiograph.width, radiograph.height) == ("PNG", 64, 48)
    assert radiograph.size_bytes == len(original)
    assert radiograph.original_filename == "left wrist.png"
    name = Path(radiograph.image.name)
    assert name.parts[0] == "radiographs" and name.suffix == ".png"
    assert len(name.stem) == 32 and "wrist" not in name.name
    assert (Path(settings.MEDIA_ROOT) / radiograph.image.name).read_bytes() == original
    prediction = radiograph.predictions.get()
    assert prediction.status == Prediction.Status.QUEUED
    assert sent_tasks == [prediction.pk]
    prediction.refresh_from_db()
    assert prediction.enqueued_at is not None


def test_png_named_jpg_is_stored_as_png(case, clinician):
    upload = SimpleUploadedFile("scan.jpg", image_bytes("PNG"))
    radiograph = services.radiograph_upload(case=case, file=upload, user=clinician)
    assert radiograph.format == "PNG" and radiograph.image.name.endswith(".png")


def test_jpeg_is_accepted(case, clinician, jpeg_upload):
    radiograph = services.radiograph_upload(case=case, file=jpeg_upload, user=clinician)
    assert radiograph.format == "JPEG" and radiograph.image.name.endswith(".jpg")


def test_nothing_is_enqueued_before_commit(case, clinician, png_upload, sent_tasks):
    services.radiograph_upload(case=case, file=png_upload, user=clinician)
    assert sent_tasks == []  # the test transaction never commits


def test_broker_down_keeps_upload_queued(
    case, clinician, png_upload, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    from diagnosis.tasks import predict

    def broker_down(prediction_id: int) -> None:
        raise BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(predict, "delay", broker_down)
    with caplog.at_level(logging.WARNING), django_capture_on_commit_callbacks(execute=True):
        radiograph = services.radiograph_upload(case=case, file=png_upload, user=clinician)

    prediction = radiograph.predictions.get()
    assert (prediction.status, prediction.enqueued_at) == (Prediction.Status.QUEUED, None)
    assert "broker unavailable" in caplog.text


def test_failed_transaction_removes_the_stored_file(case, clinician, png_upload, monkeypatch, settings):
    def explode(**kwargs: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(Prediction.objects, "create", explode)
    with pytest.raises(RuntimeError):
        services.radiograph_upload(case=case, file=png_upload, user=clinician)
    assert Radiograph.objects.count() == 0
    assert _stored_files(settings) == []


def test_closed_case_refuses_uploads(case, clinician, png_upload):
    case.status = Case.Status.CLOSED
    case.save()
    with pytest.raises(UploadRejected, match="closed"):
        services.radiograph_upload(case=case, file=png_upload, user=clinician)


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("empty.png", lambda truncated: b"", "The file is empty."),
        ("notes.png", lambda truncated: b"just some text, not an image\n" * 10, "not an image"),
        ("IMG0004149.jpg", lambda truncated: truncated, "could not be read: .*truncated"),
        ("anim.png", lambda truncated: image_bytes("GIF"), "GIF images are not accepted"),
        (
            "bomb.png",
            lambda truncated: _png_header(10_000, 10_000),
            "10000x10000 pixels, more than the limit of 60000000",
        ),
    ],
)
def test_bad_uploads_are_rejected_and_leave_nothing(case, clinician, settings, truncated_jpeg, name, make, message):
    with pytest.raises(UploadRejected, match=message):
        services.radiograph_upload(case=case, file=SimpleUploadedFile(name, make(truncated_jpeg)), user=clinician)
    assert Radiograph.objects.count() == 0 and Prediction.objects.count() == 0
    assert _stored_files(settings) == []


def test_oversize_upload_is_rejected_before_reading(case, clinician, settings, monkeypatch):
    settings.FRACTURE_MAX_UPLOAD_BYTES = 1024
    upload = SimpleUploadedFile("big.png", image_bytes("PNG", size=(400, 400)) + b"\0" * 2048)
    monkeypatch.setattr("diagnosis.validation.read_capped", lambda *a: pytest.fail("file was read"))
    with pytest.raises(UploadRejected, match="larger than the 1 KB limit"):
        services.radiograph_upload(case=case, file=upload, user=clinician)
    assert Radiograph.objects.count() == 0 and _stored_files(settings) == []


def test_pixel_limit_comes_from_settings(case, clinician, settings, png_upload):
    settings.FRACTURE_MAX_IMAGE_PIXELS = 100
    with pytest.raises(UploadRejected, match="64x48 pixels, more than the limit of 100"):
        services.radiograph_upload(case=case, file=png_upload, user=clinician)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("C:\\Users\\x\\wrist.png", "wrist.png"),
        ("../../etc/passwd", "passwd"),
        ("a\x00b\nc.jpg", "abc.jpg"),
        (None, ""),
    ],
)
def test_original_filename_is_sanitised_for_display(raw, clean):
    assert sanitise_filename(raw) == clean


def test_same_file_twice_in_a_case_is_refused_with_the_existing_radiograph(
    case, clinician, team, sent_tasks, settings, django_capture_on_commit_callbacks
):
    content = image_bytes("PNG")
    with django_capture_on_commit_callbacks(execute=True):
        first = services.radiograph_upload(case=case, file=SimpleUploadedFile("a.png", content), user=clinician)
    with pytest.raises(services.DuplicateRadiograph, match="already in this case") as refused:
        services.radiograph_upload(case=case, file=SimpleUploadedFile("renamed.png", content), user=clinician)
    assert refused.value.existing == first and refused.value.code == "duplicate"
    assert "a.png" in refused.value.messages[0]
    assert Radiograph.objects.count() == 1 and Prediction.objects.count() == 1 and len(sent_tasks) == 1
    assert len(_stored_files(settings)) == 1
    # The same file in another case of the patient is a new radiograph there.
    other = CaseFactory(team=team, patient=case.patient)
    services.radiograph_upload(case=other, file=SimpleUploadedFile("a.png", content), user=clinician)
    assert Radiograph.objects.count() == 2


def test_duplicate_checked_again_inside_the_transaction(case, clinician, monkeypatch, settings):
    """Two simultaneous uploads of one file: the second to commit finds the first under the lock."""
    from diagnosis.services import radiographs

    content = image_bytes("PNG")
    calls = []
    real = radiographs._refuse_duplicate

    def racing(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:  # the early check ran before the other upload committed
            services.radiograph_upload(case=case, file=SimpleUploadedFile("other.png", content), user=clinician)
            return None
        return real(**kwargs)

    monkeypatch.setattr(radiographs, "_refuse_duplicate", racing)
    with pytest.raises(services.DuplicateRadiograph):
        services.radiograph_upload(case=case, file=SimpleUploadedFile("late.png", content), user=clinician)
    assert Radiograph.objects.get().original_filename == "other.png"
    assert len(_stored_files(settings)) == 1
