"""Remove embedded metadata (EXIF GPS, names, dates, comments, XMP, IPTC) without touching pixels.

The stored original is never altered; this builds the copy that users see and export. It works
on the container, not the pixels: JPEG scan data and PNG image data are copied byte for byte, so
the picture is exactly the uploaded one. Only the EXIF orientation survives (in a fresh, minimal
EXIF block), because dropping it would show the image rotated.
"""

from __future__ import annotations

import struct
from io import BytesIO

from PIL import Image

_ORIENTATION_TAG = 0x0112

# JPEG: markers with no length field.
_STANDALONE = {0x01, *range(0xD0, 0xD8)}
_SOS = 0xDA
_APP0, _APP2, _APP14, _COM = 0xE0, 0xE2, 0xEE, 0xFE

# PNG: chunks that carry the picture or how to show its colours; everything else is dropped.
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_KEEP = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"pHYs"}


class MetadataError(ValueError):
    """The container is not a well-formed JPEG or PNG."""


def _jpeg_orientation(data: bytes) -> int | None:
    try:
        with Image.open(BytesIO(data)) as image:
            value = image.getexif().get(_ORIENTATION_TAG)
    except (OSError, SyntaxError, ValueError):
        return None
    return value if isinstance(value, int) and 2 <= value <= 8 else None


def _minimal_exif_segment(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[_ORIENTATION_TAG] = orientation
    payload = b"Exif\x00\x00" + exif.tobytes()
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def _keep_jpeg_segment(marker: int, body: bytes) -> bool:
    if marker == _COM:
        return False
    if not 0xE0 <= marker <= 0xEF:  # tables and frame headers: part of the picture
        return True
    if marker == _APP0:
        return body.startswith((b"JFIF\x00", b"JFXX\x00"))
    if marker == _APP2:
        return body.startswith(b"ICC_PROFILE\x00")
    return marker == _APP14 and body.startswith(b"Adobe")  # colour transform of CMYK/YCCK files


def strip_jpeg(data: bytes) -> bytes:
    if not data.startswith(b"\xff\xd8"):
        raise MetadataError("not a JPEG file")
    out = bytearray(b"\xff\xd8")
    orientation = _jpeg_orientation(data)
    if orientation:
        out += _minimal_exif_segment(orientation)
    pos = 2
    while pos < len(data):
        if data[pos] != 0xFF:
            raise MetadataError("malformed JPEG segment")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            out += data[pos : pos + 2]
            pos += 2
            continue
        if pos + 4 > len(data):
            raise MetadataError("truncated JPEG header")
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        end = pos + 2 + length
        if marker == _SOS:
            out += data[pos:]  # scan data and everything after it, byte for byte
            return bytes(out)
        if _keep_jpeg_segment(marker, data[pos + 4 : end]):
            out += data[pos:end]
        pos = end
    raise MetadataError("JPEG has no image data")


def strip_png(data: bytes) -> bytes:
    if not data.startswith(_PNG_SIGNATURE):
        raise MetadataError("not a PNG file")
    out = bytearray(_PNG_SIGNATURE)
    pos = len(_PNG_SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise MetadataError("truncated PNG chunk")
        if kind in _PNG_KEEP:
            out += data[pos:end]
        pos = end
        if kind == b"IEND":
            return bytes(out)
    raise MetadataError("PNG has no end chunk")


def strip_metadata(data: bytes, image_format: str) -> bytes:
    """The same picture without embedded metadata; ``image_format`` is "JPEG" or "PNG"."""
    if image_format == "JPEG":
        return strip_jpeg(data)
    if image_format == "PNG":
        return strip_png(data)
    raise MetadataError(f"unsupported format {image_format!r}")
