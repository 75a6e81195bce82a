"""Upload validation for radiographs: size, content sniffing, pixel limit, full decode.

Decoding itself lives in ``inference.imaging`` (shared with training and serving, no TensorFlow)
and, for DICOM, in ``inference.dicom``.
The client's filename and extension are never trusted: the bytes decide the format.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.utils import timezone

from diagnosis.models import ImageFormat, Radiograph
from inference.dicom import DICOM_SNIFF_BYTES, DicomHeader, DicomRejected, decode_dicom, is_dicom
from inference.imaging import SNIFF_BYTES, ImageDecodeError, open_image, sniff_format

ACCEPTED_FORMATS = tuple(ImageFormat.values)
_CHUNK = 64 * 1024


class UploadRejected(ValidationError):
    """The uploaded file is not an acceptable radiograph; the message says why."""


class DuplicateRadiograph(UploadRejected):
    """The same bytes (SHA-256) are already in this case; ``existing`` is that radiograph."""

    def __init__(self, existing: Radiograph) -> None:
        when = f" on {timezone.localtime(existing.uploaded_at):%d %b %Y %H:%M}" if existing.uploaded_at else ""
        name = existing.original_filename or "an earlier upload"
        super().__init__(
            f"This image is already in this case (uploaded{when} as \u201c{name}\u201d); it was not added again.",
            code="duplicate",
        )
        self.existing = existing


@dataclass(frozen=True)
class ValidatedImage:
    format: str
    width: int
    height: int
    sha256: str
    size_bytes: int
    original_filename: str
    dicom: DicomHeader | None = None  # the header of a DICOM upload


def sanitise_filename(name: str | None) -> str:
    """A display-only name: no directories, no control characters, at most 255 characters."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFC", base)
    cleaned = "".join(ch for ch in base if not unicodedata.category(ch).startswith("C")).strip()
    return cleaned[:255]


def clean_search_term(raw: str | None) -> str:
    """A search box value safe for any database: no control characters (PostgreSQL refuses NUL), capped."""
    return "".join(ch for ch in (raw or "") if not unicodedata.category(ch).startswith("C")).strip()[:200]


def too_large_message(limit: int) -> str:
    if limit >= 1024 * 1024:
        readable = f"{limit / (1024 * 1024):g} MB"
    elif limit >= 1024:
        readable = f"{limit / 1024:g} KB"
    else:
        readable = f"{limit} bytes"
    return f"The file is larger than the {readable} limit."


class UploadLimitHandler(FileUploadHandler):
    """First upload handler: a file over the limit is dropped while it streams in.

    The rest of that file is read from the connection and discarded, never written to memory or
    disk; its (display) name is left in ``request.rejected_uploads`` for the view to report.
    """

    def new_file(self, *args: object, **kwargs: object) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > settings.FRACTURE_MAX_UPLOAD_BYTES:
            self.request.__dict__.setdefault("rejected_uploads", []).append(sanitise_filename(self.file_name))
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def _hash_and_measure(file: File, limit: int) -> tuple[str, int]:
    """SHA-256 and size by streaming; stops as soon as the limit is passed."""
    digest = hashlib.sha256()
    total = 0
    file.seek(0)
    for chunk in file.chunks(_CHUNK):
        total += len(chunk)
        if total > limit:
            raise UploadRejected(too_large_message(limit), code="too_large")
        digest.update(chunk)
    file.seek(0)
    return digest.hexdigest(), total


def validate_radiograph(file: IO[bytes] | File) -> ValidatedImage:
    """Check an uploaded file and describe it; raise ``UploadRejected`` with a clear message.

    Order matters: the declared size is checked before anything is read, the pixel count before
    any pixel is decoded (``open_image(max_pixels=...)``), and the file is left at position 0.
    """
    upload = file if isinstance(file, File) else File(file)
    limit = settings.FRACTURE_MAX_UPLOAD_BYTES
    declared = getattr(upload, "size", None)
    if declared is not None and declared > limit:
        raise UploadRejected(too_large_message(limit), code="too_large")
    sha256, size = _hash_and_measure(upload, limit)
    if size == 0:
        raise UploadRejected("The file is empty.", code="empty")

    head = upload.read(max(SNIFF_BYTES, DICOM_SNIFF_BYTES))
    upload.seek(0)
    if is_dicom(head):
        return _validate_dicom(upload, sha256=sha256, size=size)
    detected = sniff_format(head)
    if detected is None:
        raise UploadRejected("The file is not an image (only JPEG, PNG and DICOM are accepted).", code="not_image")
    if detected not in ACCEPTED_FORMATS:
        raise UploadRejected(
            f"{detected} images are not accepted; upload a JPEG, PNG or DICOM file.", code="unsupported_format"
        )
    try:
        image = open_image(upload, max_pixels=settings.FRACTURE_MAX_IMAGE_PIXELS)
    except ImageDecodeError as exc:
        raise UploadRejected(f"The image could not be read: {str(exc).rstrip('.')}.", code="unreadable") from exc
    finally:
        upload.seek(0)
    width, height = image.size
    image.close()
    return ValidatedImage(
        format=detected,
        width=width,
        height=height,
        sha256=sha256,
        size_bytes=size,
        original_filename=sanitise_filename(getattr(upload, "name", "")),
    )


def _validate_dicom(upload: File, *, sha256: str, size: int) -> ValidatedImage:
    """Header checks (modality, frames, transfer syntax, pixel limit) then a full decode."""
    try:
        decoded = decode_dicom(upload.read(), max_pixels=settings.FRACTURE_MAX_IMAGE_PIXELS)
    except DicomRejected as exc:
        raise UploadRejected(f"The DICOM file was refused: {str(exc).rstrip('.')}.", code=exc.code) from exc
    finally:
        upload.seek(0)
    width, height = decoded.image.size
    decoded.image.close()
    return ValidatedImage(
        format=ImageFormat.DICOM,
        width=width,
        height=height,
        sha256=sha256,
        size_bytes=size,
        original_filename=sanitise_filename(getattr(upload, "name", "")),
        dicom=decoded.header,
    )
