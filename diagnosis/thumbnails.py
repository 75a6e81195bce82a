"""Derived copies of a radiograph for display: metadata-free image and thumbnail.

Both are built once from the untouched original and kept in storage under the file's SHA-256,
so every web process serves the same bytes and nothing is recomputed per request.
"""

from __future__ import annotations

from io import BytesIO

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from PIL import Image

from diagnosis.metadata import strip_metadata
from diagnosis.models import IMAGE_CONTENT_TYPES, IMAGE_EXTENSIONS, ImageFormat, Radiograph
from inference.dicom import open_radiograph_image
from inference.imaging import to_grey

THUMB_SIZE = 256


def _cached(name: str, build) -> File:
    if not default_storage.exists(name):
        saved = default_storage.save(name, ContentFile(build()))
        if saved != name:  # another process stored the same copy first: keep that one
            default_storage.delete(saved)
    return default_storage.open(name, "rb")


def radiograph_display_file(radiograph: Radiograph) -> tuple[File, str]:
    """The uploaded picture, byte-identical pixels, without EXIF/XMP/IPTC/text metadata.

    A DICOM original is shown as a PNG of its display pixels (LUTs and window applied), with
    no header and no text chunk: the browser cannot show DICOM, and the header names the patient.
    """
    if radiograph.format == ImageFormat.DICOM:
        return _dicom_display_file(radiograph), "image/png"
    name = f"display/{radiograph.sha256}{IMAGE_EXTENSIONS[radiograph.format]}"

    def build() -> bytes:
        with radiograph.image.open("rb") as original:
            return strip_metadata(original.read(), radiograph.format)

    return _cached(name, build), IMAGE_CONTENT_TYPES[radiograph.format]


def radiograph_thumbnail_file(radiograph: Radiograph) -> File:
    """A small greyscale JPEG preview (orientation applied, no metadata) for lists."""
    name = f"thumbs/{radiograph.sha256}-{THUMB_SIZE}.jpg"

    def build() -> bytes:
        image = radiograph_pixels(radiograph)
        image = to_grey(image)  # the same mode handling as the model's input, 16-bit included
        image.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.LANCZOS)
        out = BytesIO()
        image.save(out, "JPEG", quality=85)
        return out.getvalue()

    return _cached(name, build)


def _dicom_display_file(radiograph: Radiograph) -> File:
    name = f"display/{radiograph.sha256}.png"

    def build() -> bytes:
        image = radiograph_pixels(radiograph)
        out = BytesIO()
        image.save(out, "PNG", optimize=False)
        return out.getvalue()

    return _cached(name, build)


def radiograph_pixels(radiograph: Radiograph) -> Image.Image:
    """The stored original decoded (JPEG, PNG or DICOM display pixels) within the pixel limit: the
    one decode of a stored radiograph, for thumbnails, display copies, the worker and shadow runs."""
    with radiograph.image.open("rb") as original:
        return open_radiograph_image(original, max_pixels=settings.FRACTURE_MAX_IMAGE_PIXELS)
