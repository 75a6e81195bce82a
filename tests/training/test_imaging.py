"""Decoding and the shared preprocessing function."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from inference.imaging import ImageDecodeError, open_image, sniff_format, to_model_input

SPEC = {"size": 48, "color": "grey", "resize": "letterbox"}


def _picture() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (40, 70), dtype=np.uint8), mode="L")


def _png_bytes(image: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("fmt", "name"),
    [("PNG", "PNG"), ("JPEG", "JPEG"), ("GIF", "GIF"), ("BMP", "BMP"), ("TIFF", "TIFF"), ("WEBP", "WEBP")],
)
def test_sniff_format_reads_magic_bytes(fmt, name):
    assert sniff_format(_png_bytes(_picture(), fmt)[:16]) == name


def test_sniff_format_rejects_other_content():
    assert sniff_format(b"%PDF-1.7 ...") is None
    assert sniff_format(b"") is None


def test_every_mode_gives_the_same_model_input():
    grey = _picture()
    reference = to_model_input(grey, SPEC)
    wide = Image.fromarray(np.asarray(grey).astype(np.uint16) * 257)  # same picture at 16 bits
    rgba = grey.convert("RGBA")
    variants = [grey.convert("RGB"), rgba, grey.convert("P"), grey.convert("CMYK"), wide, grey.convert("LA")]
    for variant in variants:
        np.testing.assert_array_equal(to_model_input(variant, SPEC), reference, err_msg=variant.mode)
    assert reference.shape == (48, 48, 1) and reference.dtype == np.float32


def test_transparency_becomes_black():
    image = Image.new("RGBA", (10, 10), (255, 255, 255, 0))
    assert to_model_input(image, {"size": 10, "color": "grey", "resize": "stretch"}).max() == 0.0


def test_letterbox_keeps_aspect_and_pads_black():
    image = Image.new("L", (100, 50), 255)
    arr = to_model_input(image, {"size": 20, "color": "grey", "resize": "letterbox"})[:, :, 0]
    assert arr[:5].max() == 0.0 and arr[-5:].max() == 0.0  # padding above and below
    assert arr[10].min() == 1.0


def test_open_image_reads_png_with_jpg_extension(tmp_path):
    path = tmp_path / "lies.jpg"
    path.write_bytes(_png_bytes(_picture()))
    assert open_image(path).format == "PNG"


def test_open_image_applies_exif_orientation(tmp_path):
    image = Image.new("L", (30, 10), 0)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif)
    assert open_image(path).size == (10, 30)


def test_open_image_refuses_truncated_and_garbage(tmp_path):
    data = _png_bytes(_picture(), "JPEG")
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageDecodeError):
        open_image(truncated)
    with pytest.raises(ImageDecodeError, match="not a supported image"):
        open_image(io.BytesIO(b"hello world, not an image"))


def test_open_image_checks_pixel_limit_before_decoding():
    big = _png_bytes(Image.new("L", (400, 300)))
    with pytest.raises(ImageDecodeError, match="limit"):
        open_image(io.BytesIO(big), max_pixels=100_000)


def test_open_image_leaves_file_object_position():
    fh = io.BytesIO(_png_bytes(_picture()))
    fh.seek(0)
    open_image(fh)
    assert fh.tell() == 0
