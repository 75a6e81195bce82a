"""Images shown to users: the same pixels as uploaded, without embedded metadata."""

from __future__ import annotations

import hashlib
from io import BytesIO

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image, PngImagePlugin

from diagnosis import services
from diagnosis.metadata import MetadataError, strip_metadata
from tests.factories import CaseFactory

pytestmark = pytest.mark.django_db

ORIENTATION, ARTIST, DATETIME, GPS_IFD = 0x0112, 0x013B, 0x0132, 0x8825


def _xray(size=(80, 60)) -> Image.Image:
    rng = np.random.default_rng(1)
    return Image.fromarray(rng.integers(0, 255, (size[1], size[0]), dtype=np.uint8), mode="L")


def jpeg_with_metadata() -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[ARTIST] = "Dr Jane Secret"
    exif[DATETIME] = "2024:01:02 03:04:05"
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (51.0, 30.0, 0.0)})
    out = BytesIO()
    _xray().save(out, "JPEG", exif=exif.tobytes(), comment=b"Patient: John Doe", quality=90)
    return out.getvalue()


def png_with_metadata() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Dr Jane Secret")
    info.add_itxt("Comment", "Patient: John Doe")
    out = BytesIO()
    _xray().save(out, "PNG", pnginfo=info)
    return out.getvalue()


def _pixels(data: bytes) -> np.ndarray:
    with Image.open(BytesIO(data)) as image:
        return np.asarray(image.convert("L"))


def test_jpeg_copy_keeps_pixels_and_orientation_but_no_personal_metadata():
    original = jpeg_with_metadata()
    shown = strip_metadata(original, "JPEG")
    assert b"Dr Jane Secret" in original and b"John Doe" in original
    assert b"Dr Jane Secret" not in shown and b"John Doe" not in shown and b"2024:01:02" not in shown
    with Image.open(BytesIO(shown)) as image:
        exif = image.getexif()
        assert dict(exif) == {ORIENTATION: 6} and not exif.get_ifd(GPS_IFD)
    assert np.array_equal(_pixels(original), _pixels(shown))


def test_png_copy_drops_text_chunks_and_keeps_pixels():
    original = png_with_metadata()
    shown = strip_metadata(original, "PNG")
    assert b"Dr Jane Secret" not in shown and b"John Doe" not in shown
    assert np.array_equal(_pixels(original), _pixels(shown))


@pytest.mark.parametrize("data, fmt", [(b"GIF89a....", "JPEG"), (b"\x89PNG\r\n\x1a\nshort", "PNG")])
def test_malformed_containers_are_refused(data, fmt):
    with pytest.raises(MetadataError):
        strip_metadata(data, fmt)


def test_image_view_serves_clean_copy_and_original_stays_untouched(clinician_client, clinician, team):
    case = CaseFactory(team=team, patient__team=team)
    original = jpeg_with_metadata()
    upload = SimpleUploadedFile("wrist.jpg", original, content_type="image/jpeg")
    radiograph = services.radiograph_upload(case=case, file=upload, user=clinician)

    response = clinician_client.get(reverse("diagnosis:radiograph-image", args=[radiograph.pk]))
    shown = b"".join(response.streaming_content)
    assert response["Content-Type"] == "image/jpeg" and response["Cache-Control"].startswith("private")
    assert b"John Doe" not in shown and np.array_equal(_pixels(original), _pixels(shown))
    with radiograph.image.open("rb") as stored:
        assert hashlib.sha256(stored.read()).hexdigest() == hashlib.sha256(original).hexdigest() == radiograph.sha256

    thumb = clinician_client.get(reverse("diagnosis:radiograph-image", args=[radiograph.pk]), {"thumb": 1})
    with Image.open(BytesIO(b"".join(thumb.streaming_content))) as image:
        assert image.format == "JPEG" and max(image.size) <= 256
        assert image.size == (60, 80)  # EXIF orientation 6 applied: portrait
        assert not image.getexif()
