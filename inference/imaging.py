"""Decoding and the single preprocessing function shared by training, evaluation and serving.

No TensorFlow here: the web upload validator imports this module, and web processes must stay
light. Everything that turns bytes into model input goes through ``open_image`` and
``to_model_input`` so a served image is prepared exactly as a training image was.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps

# Magic bytes -> Pillow format name. Extensions lie in the dataset (PNGs named .jpg, a GIF),
# so the content decides.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
SNIFF_BYTES = 16
_ALPHA_MODES = ("P", "PA", "LA", "RGBA", "La", "RGBa")


class ImageDecodeError(ValueError):
    """The bytes are not an image we can read (unknown format, truncated, too large)."""


def sniff_format(head: bytes) -> str | None:
    """Pillow format name from the first bytes of a file, or None if it is not a known image."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return None


def _read_all(source: str | os.PathLike | BinaryIO) -> bytes:
    if isinstance(source, str | os.PathLike):
        try:
            return Path(source).read_bytes()
        except OSError as exc:
            raise ImageDecodeError(f"cannot read {source}: {exc.strerror or exc}") from exc
    # Leave a file object where we found it: the caller may store it after validation.
    position = source.tell() if source.seekable() else None
    data = source.read()
    if position is not None:
        source.seek(position)
    return data


def open_image(source: str | os.PathLike | BinaryIO, *, max_pixels: int | None = None) -> Image.Image:
    """Decode an image fully, with EXIF orientation applied; raise ImageDecodeError otherwise."""
    data = _read_all(source)
    fmt = sniff_format(data[:SNIFF_BYTES])
    if fmt is None:
        raise ImageDecodeError("not a supported image (JPEG, PNG, GIF, BMP, TIFF or WEBP expected)")
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check warns or raises at its global limit; ours is explicit below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[fmt])
            width, height = image.size
            if max_pixels is not None and width * height > max_pixels:
                raise ImageDecodeError(f"image is {width}x{height} pixels, more than the limit of {max_pixels}")
            image.load()
    except ImageDecodeError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageDecodeError(f"cannot decode {fmt} image: {exc}") from exc
    # In place keeps ``image.format``, which upload validation reports. A malformed EXIF block
    # should not lose an otherwise good radiograph, so its errors are ignored.
    with contextlib.suppress(OSError, ValueError, SyntaxError):
        ImageOps.exif_transpose(image, in_place=True)
    return image


def to_grey(image: Image.Image) -> Image.Image:
    """One mode conversion for every input: the same picture gives the same grey pixels."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(image, dtype=np.float64)
        # 16-bit data spans 0..65535; 8-bit data stored in a wide mode is left as it is.
        if mode.startswith("I;16") or arr.max(initial=0) > 255:
            arr = arr / 257.0
        return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), mode="L")
    if mode == "L":
        return image
    if mode == "1":
        return image.convert("L")
    if mode in _ALPHA_MODES:
        image = _flatten_alpha(image)
    elif mode != "RGB":
        image = image.convert("RGB")
    return image.convert("L")


def _flatten_alpha(image: Image.Image) -> Image.Image:
    """Transparent areas become black, like the unexposed background of a radiograph."""
    rgba = image.convert("RGBA")
    black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
    return Image.alpha_composite(black, rgba).convert("RGB")


def _to_rgb_uint8(image: Image.Image) -> Image.Image:
    if image.mode in _ALPHA_MODES:
        return _flatten_alpha(image)
    if image.mode == "RGB":
        return image
    if image.mode == "CMYK":
        return image.convert("RGB")
    return to_grey(image).convert("RGB")


def _fit(image: Image.Image, size: int, resize: str) -> Image.Image:
    if resize == "stretch":
        return image.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=None)
    if resize != "letterbox":
        raise ValueError(f"unknown resize mode {resize!r}")
    # Keep the aspect ratio (bones are long and thin; stretching distorts fracture lines) and
    # pad with black, which is what the rotated copies in the data already have in their corners.
    left, top, right, bottom = picture_box(*image.size, size, resize)
    resized = image.resize((right - left, bottom - top), Image.Resampling.BILINEAR, reducing_gap=None)
    canvas = Image.new(image.mode, (size, size), 0)
    canvas.paste(resized, (left, top))
    return canvas


def picture_box(width: int, height: int, size: int, resize: str) -> tuple[int, int, int, int]:
    """Where a ``width`` x ``height`` picture lies in the network's ``size`` square (left, top,
    right, bottom): the whole square when stretched; letterboxed, the longer side scaled to
    ``size`` and the picture centred."""
    if resize == "stretch":
        return 0, 0, size, size
    scale = size / max(width, height)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    left, top = (size - new_w) // 2, (size - new_h) // 2
    return left, top, left + new_w, top + new_h


def to_model_input(image: Image.Image, spec: dict) -> np.ndarray:
    """THE preprocessing: grey (or RGB) pixels, fitted into a square, scaled to [0, 1].

    ``spec`` is the card's ``input`` block: ``size`` (pixels), ``color`` ("grey" or "rgb") and
    ``resize`` ("letterbox" or "stretch"). Returns float32 HxWxC.
    """
    size = int(spec["size"])
    color = spec.get("color", "grey")
    if color == "grey":
        converted = to_grey(image)
    elif color == "rgb":
        converted = _to_rgb_uint8(image)
    else:
        raise ValueError(f"unknown color mode {color!r}")
    fitted = _fit(converted, size, spec.get("resize", "letterbox"))
    arr = np.asarray(fitted, dtype=np.float32) / 255.0
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return arr


# Changes of orientation that leave the diagnosis as it is, on prepared NHWC batches: test-time
# views average over some of them, ``evaluate --transform`` scores a whole split under one, and
# cross-validation caches the pretrained trunk's output for all eight (the square's symmetries).
VIEWS = {
    "hflip": lambda x: x[:, :, ::-1, :],
    "vflip": lambda x: x[:, ::-1, :, :],
    "rot90": lambda x: np.rot90(x, 1, axes=(1, 2)),
    "rot180": lambda x: x[:, ::-1, ::-1, :],
    "rot270": lambda x: np.rot90(x, 3, axes=(1, 2)),
    "transpose": lambda x: np.swapaxes(x, 1, 2),
    "transverse": lambda x: np.swapaxes(x, 1, 2)[:, ::-1, ::-1, :],
}
DIHEDRAL = ("identity", *VIEWS)


def view(x: np.ndarray, name: str) -> np.ndarray:
    return x if name == "identity" else VIEWS[name](x)
