"""Hostile and odd uploads through the service, the web form and the API.

Complements tests/diagnosis/test_uploads.py (empty, text, truncated JPEG, GIF, bomb, oversize by
declared size, filename sanitiser): here the disguised formats, truncated PNG, dangerous names
end to end, refusal while streaming, and every legal flavour of image classified by a real model.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
from django.contrib.messages import get_messages
from django.core.files import File
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from diagnosis import services
from diagnosis.models import Prediction, Radiograph
from diagnosis.validation import UploadRejected, validate_radiograph
from tests.factories import CaseFactory, image_bytes

pytestmark = pytest.mark.django_db

HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>'
PDF = b"%PDF-1.7\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def _stored_files(settings) -> list[Path]:
    return [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _bone(size: tuple[int, int] = (96, 64)) -> np.ndarray:
    grey = np.zeros((size[1], size[0]), dtype=np.uint8)
    grey[:, size[0] // 3 : 2 * size[0] // 3] = 200
    return grey


@pytest.fixture
def case(team):
    return CaseFactory(team=team, patient__team=team)


# Rejected: nothing stored, a clear message, on every entry point -------------------------------

REJECTED = [
    ("page.png", HTML, "not an image"),
    ("page.jpg", HTML, "not an image"),
    ("drawing.png", SVG, "not an image"),
    ("drawing.jpg", SVG, "not an image"),
    ("report.png", PDF, "not an image"),
    ("report.jpg", PDF, "not an image"),
    ("cut.png", image_bytes("PNG", size=(200, 200))[:150], "could not be read"),
]


@pytest.mark.parametrize(
    ("name", "data", "message"), REJECTED, ids=["html", "html-jpg", "svg", "svg-jpg", "pdf", "pdf-jpg", "truncated-png"]
)
def test_disguised_and_truncated_files_are_rejected_everywhere(
    case, clinician, clinician_client, api_client, settings, name, data, message
):
    with pytest.raises(UploadRejected, match=message):
        services.radiograph_upload(case=case, file=SimpleUploadedFile(name, data), user=clinician)

    page = clinician_client.post(f"/cases/{case.pk}/upload/", {"image": SimpleUploadedFile(name, data)})
    assert page.status_code == 302
    shown = [str(m) for m in get_messages(page.wsgi_request)]
    assert any(m.startswith(f"{name}: ") and message in m for m in shown), shown

    api = api_client.post(f"/api/v1/cases/{case.pk}/radiographs/", {"image": SimpleUploadedFile(name, data)})
    assert api.status_code == 400 and message in " ".join(api.json()["image"])

    assert Radiograph.objects.count() == 0 and Prediction.objects.count() == 0
    assert _stored_files(settings) == []


DANGEROUS_NAMES = [
    "../../../../etc/cron.d/evil.png",
    "..\\..\\windows\\system32\\evil.png",
    "/abs/path/evil.png",
    "evil\x00.png\r\nSet-Cookie: x=1",
    "<img src=x onerror=alert(1)>.png",
    "\u202egnp.exe",  # right-to-left override: shows as "exe.png"
]


@pytest.mark.parametrize("via", ["web", "api"])
def test_dangerous_filenames_are_never_used_on_disk(case, clinician_client, api_client, settings, tmp_path, via):
    for number, name in enumerate(DANGEROUS_NAMES, start=1):
        upload = SimpleUploadedFile(name, image_bytes("PNG", variant=number), content_type="image/png")
        if via == "web":
            response = clinician_client.post(f"/cases/{case.pk}/upload/", {"image": upload})
            assert response.status_code == 302
        else:
            response = api_client.post(f"/api/v1/cases/{case.pk}/radiographs/", {"image": upload})
            assert response.status_code == 202, response.json()
    media = Path(settings.MEDIA_ROOT)
    stored = _stored_files(settings)
    assert len(stored) == Radiograph.objects.count() == len(DANGEROUS_NAMES)
    for radiograph in Radiograph.objects.all():
        path = Path(radiograph.image.name)
        assert path.parts[0] == "radiographs" and len(path.stem) == 32 and path.suffix == ".png"
        assert all(ch not in radiograph.original_filename for ch in "/\\\x00\r\n\u202e")
    assert {p.relative_to(media).parts[0] for p in stored} == {"radiographs"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["media"]  # nothing written beside MEDIA_ROOT
    page = clinician_client.get(f"/cases/{case.pk}/").content.decode()
    assert "<img src=x onerror" not in page and "&lt;img src=x onerror=alert(1)&gt;.png" in page


class _CountingUpload(io.BytesIO):
    """A file whose declared size lies (as a client's can): counts what the validator reads."""

    size = 100
    name = "huge.png"

    def __init__(self, total: int) -> None:
        super().__init__(image_bytes("PNG") + b"\0" * total)
        self.bytes_read = 0

    def read(self, n: int | None = -1) -> bytes:
        data = super().read(n)
        self.bytes_read += len(data)
        return data


def test_oversize_file_is_refused_while_streaming_not_read_whole(settings):
    settings.FRACTURE_MAX_UPLOAD_BYTES = 256 * 1024
    upload = _CountingUpload(total=8 * 1024 * 1024)
    with pytest.raises(UploadRejected, match="larger than the 256 KB limit"):
        validate_radiograph(File(upload))
    assert upload.bytes_read <= 256 * 1024 + 64 * 1024  # at most one chunk past the limit
    assert upload.bytes_read < len(upload.getvalue()) / 10


@pytest.mark.parametrize("via", ["web", "api"])
def test_oversize_request_file_is_dropped_by_the_upload_handler(case, clinician_client, api_client, settings, via):
    """The handler drops the file mid-stream: never stored in memory or a temporary file."""
    settings.FRACTURE_MAX_UPLOAD_BYTES = 100 * 1024
    big = SimpleUploadedFile("big.png", image_bytes("PNG") + b"\0" * (150 * 1024))
    small = SimpleUploadedFile("ok.png", image_bytes("PNG"))
    if via == "web":
        response = clinician_client.post(f"/cases/{case.pk}/upload/", {"image": [big, small]})
        request = response.wsgi_request
        assert request.rejected_uploads == ["big.png"] and [f.name for f in request.FILES.getlist("image")] == [
            "ok.png"
        ]
        shown = [str(m) for m in get_messages(request)]
        assert "big.png: The file is larger than the 100 KB limit." in shown
        assert Radiograph.objects.get().original_filename == "ok.png"
    else:
        # Declared length within the slack, so only the handler can catch it.
        settings.FRACTURE_MAX_UPLOAD_BYTES = 100 * 1024 + 1
        response = api_client.post(f"/api/v1/cases/{case.pk}/radiographs/", {"image": big})
        assert response.status_code == 413 and "larger than" in response.json()["detail"]
        assert Radiograph.objects.count() == 0


# Accepted and classified by the real (tiny) model; the stored original is byte-identical ----------


def _exif_rotated_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    return _encode(Image.fromarray(_bone()), "JPEG", exif=exif.tobytes())


def _sixteen_bit_png() -> bytes:
    return _encode(Image.fromarray(_bone().astype(np.uint16) * 257), "PNG")


def _palette_png() -> bytes:
    return _encode(Image.fromarray(_bone()).convert("P", palette=Image.Palette.ADAPTIVE, colors=16), "PNG")


def _rgba_png() -> bytes:
    rgba = Image.fromarray(np.dstack([_bone()] * 3 + [np.full_like(_bone(), 180)]), "RGBA")
    return _encode(rgba, "PNG")


def _huge_legal_png() -> bytes:
    return _encode(Image.fromarray(_bone(size=(6000, 6000))), "PNG", compress_level=1)


ACCEPTED = {
    "greyscale.jpg": (lambda: _encode(Image.fromarray(_bone()), "JPEG"), ("JPEG", 96, 64)),
    "cmyk.jpg": (lambda: _encode(Image.fromarray(_bone()).convert("CMYK"), "JPEG"), ("JPEG", 96, 64)),
    "progressive.jpg": (
        lambda: _encode(Image.fromarray(_bone()).convert("RGB"), "JPEG", progressive=True),
        ("JPEG", 96, 64),
    ),
    "sixteen-bit.png": (_sixteen_bit_png, ("PNG", 96, 64)),
    "palette.png": (_palette_png, ("PNG", 96, 64)),
    "rgba.png": (_rgba_png, ("PNG", 96, 64)),
    "exif-rotated.jpg": (_exif_rotated_jpeg, ("JPEG", 64, 96)),  # sizes as displayed
    "huge-legal.png": (_huge_legal_png, ("PNG", 6000, 6000)),  # 36 MP, under the 60 MP limit
}


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_legal_images_are_stored_untouched_and_classified(case, clinician, settings, tiny_model, name):
    make, (fmt, width, height) = ACCEPTED[name]
    data = make()
    if name == "huge-legal.png":
        with Image.open(io.BytesIO(data)) as image:
            assert image.width * image.height <= settings.FRACTURE_MAX_IMAGE_PIXELS
    radiograph = services.radiograph_upload(case=case, file=SimpleUploadedFile(name, data), user=clinician)
    assert (radiograph.format, radiograph.width, radiograph.height) == (fmt, width, height)

    prediction = radiograph.predictions.get()
    services.prediction_run(prediction_id=prediction.pk)
    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.SUCCEEDED, prediction.error
    assert prediction.model_version == tiny_model and 0.0 <= prediction.probability <= 1.0

    stored = (Path(settings.MEDIA_ROOT) / radiograph.image.name).read_bytes()
    assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(data).hexdigest() == radiograph.sha256
