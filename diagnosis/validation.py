"""Upload validation for radiographs: size, content sniffing, pixel limit, full decode.

Decoding itself lives in ``inference.imaging`` (shared with training and serving, no TensorFlow)
and, for DICOM, in ``inference.dicom``.
The client's filename and extension are never trusted: the bytes decide the format.
"""

from __future__ import annotations

import hashlib
import io
import unicodedata
from dataclasses import dataclass, field
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.utils import timezone

from diagnosis.models import ImageFormat, Radiograph
from diagnosis.upload_limits import is_too_large, max_upload_bytes, too_large_message
from inference.dicom import DICOM_SNIFF_BYTES, DicomHeader, DicomRejected, decode_dicom, is_dicom
from inference.imaging import SNIFF_BYTES, ImageDecodeError, open_image, sniff_format

ACCEPTED_FORMATS = tuple(ImageFormat.values)


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
    data: bytes = field(default=b"", repr=False, compare=False)  # the file as read, stored as it is


def sanitise_filename(name: str | None) -> str:
    """A display-only name: no directories, no control characters, at most 255 characters."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFC", base)
    cleaned = "".join(ch for ch in base if not unicodedata.category(ch).startswith("C")).strip()
    return cleaned[:255]


def clean_search_term(raw: str | None) -> str:
    """A search box value safe for any database: no control characters (PostgreSQL refuses NUL), capped."""
    return "".join(ch for ch in (raw or "") if not unicodedata.category(ch).startswith("C")).strip()[:200]


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
        if is_too_large(self.received):
            self.request.__dict__.setdefault("rejected_uploads", []).append(sanitise_filename(self.file_name))
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def read_capped(file: IO[bytes] | File, limit: int) -> bytes:
    """The file's bytes, read once from the start: at most ``limit + 1``, so an oversize file is
    recognised without reading it whole. The file is left at position 0 where it can seek."""
    if file.seekable():
        file.seek(0)
    parts, remaining = [], limit + 1
    while remaining > 0:
        part = file.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    if file.seekable():
        file.seek(0)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def validate_radiograph(file: IO[bytes] | File) -> ValidatedImage:
    """Read an uploaded file once and describe it; raise ``UploadRejected`` with a clear message.

    The declared size is checked before anything is read; then the file is read once into one
    buffer (``ValidatedImage.data``) that is hashed, sniffed, decoded and later stored. The pixel
    count is checked before any pixel is decoded (``open_image(max_pixels=...)``), and pixels are
    decoded once.
    """
    upload = file if isinstance(file, File) else File(file)
    if is_too_large(getattr(upload, "size", None)):
        raise UploadRejected(too_large_message(), code="too_large")
    data = read_capped(upload, max_upload_bytes())
    if is_too_large(len(data)):
        raise UploadRejected(too_large_message(), code="too_large")
    if not data:
        raise UploadRejected("The file is empty.", code="empty")
    return validate_radiograph_bytes(data, name=getattr(upload, "name", ""))


def validate_radiograph_bytes(data: bytes, *, name: str = "") -> ValidatedImage:
    """``validate_radiograph`` for bytes already read (within the size limit)."""
    described = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "size_bytes": len(data),
        "original_filename": sanitise_filename(name),
        "data": data,
    }
    if is_dicom(data[:DICOM_SNIFF_BYTES]):
        return _validate_dicom(data, described)
    detected = sniff_format(data[:SNIFF_BYTES])
    if detected is None:
        raise UploadRejected("The file is not an image (only JPEG, PNG and DICOM are accepted).", code="not_image")
    if detected not in ACCEPTED_FORMATS:
        raise UploadRejected(
            f"{detected} images are not accepted; upload a JPEG, PNG or DICOM file.", code="unsupported_format"
        )
    try:
        image = open_image(io.BytesIO(data), max_pixels=settings.FRACTURE_MAX_IMAGE_PIXELS)
    except ImageDecodeError as exc:
        raise UploadRejected(f"The image could not be read: {str(exc).rstrip('.')}.", code="unreadable") from exc
    width, height = image.size
    image.close()
    return ValidatedImage(format=detected, width=width, height=height, **described)


def _validate_dicom(data: bytes, described: dict) -> ValidatedImage:
    """Header checks (modality, frames, transfer syntax, pixel limit) then a full decode."""
    try:
        decoded = decode_dicom(data, max_pixels=settings.FRACTURE_MAX_IMAGE_PIXELS)
    except DicomRejected as exc:
        raise UploadRejected(f"The DICOM file was refused: {str(exc).rstrip('.')}.", code=exc.code) from exc
    width, height = decoded.image.size
    decoded.image.close()
    return ValidatedImage(format=ImageFormat.DICOM, width=width, height=height, dicom=decoded.header, **described)
