"""Property: whatever bytes arrive, the upload validator answers with UploadRejected or a result.

Random bytes, and real JPEG/PNG files with flipped bytes, cut short or spliced: any other
exception (a decoder's struct.error, a ZeroDivisionError, a MemoryError) would be a 500 for the
clinician and a crash path for an attacker to explore.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from diagnosis.validation import UploadRejected, ValidatedImage, validate_radiograph


def _real(fmt: str, **options: object) -> bytes:
    rng = np.random.default_rng(7)
    image = Image.fromarray(rng.integers(0, 255, (40, 56), dtype=np.uint8), "L")
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    image.save(out, fmt, exif=exif.tobytes(), **options)
    return out.getvalue()


SEEDS = [_real("PNG"), _real("JPEG"), _real("JPEG", progressive=True)]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    if draw(st.booleans()):
        at = draw(st.integers(0, len(data)))
        data[at:at] = draw(st.binary(max_size=64))
    return bytes(data)


def _check(data: bytes) -> None:
    try:
        result = validate_radiograph(SimpleUploadedFile("x.png", data))
    except UploadRejected as exc:
        assert exc.messages and all(m.strip() for m in exc.messages)
    else:
        assert isinstance(result, ValidatedImage) and result.format in ("JPEG", "PNG")
        assert result.size_bytes == len(data) and result.width * result.height > 0


# Pillow warns (and carries on) about the corrupt EXIF blocks that mutation produces.
pytestmark = pytest.mark.filterwarnings("ignore:.*:UserWarning:PIL")

_FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_FAST
@given(st.binary(max_size=2048))
def test_random_bytes_only_ever_raise_upload_rejected(data: bytes) -> None:
    _check(data)


@_FAST
@given(
    st.sampled_from([b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"]).flatmap(
        lambda magic: st.binary(max_size=512).map(lambda tail: magic + tail)
    )
)
def test_right_magic_with_garbage_only_ever_raises_upload_rejected(data: bytes) -> None:
    _check(data)


@_FAST
@given(mutated())
def test_mutated_real_images_only_ever_raise_upload_rejected(data: bytes) -> None:
    _check(data)
