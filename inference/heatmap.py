"""Heat maps for people: a class activation map drawn as a small transparent PNG (no TensorFlow).

The map covers the network's square input; ``overlay_png`` keeps only the part that held the
picture (the letterbox padding of ``imaging.to_model_input`` is cut away, a stretched input is
stretched back), so the PNG lies exactly over the displayed image at any size. Values are scaled
per image from the map's minimum to its maximum: the colours say where the network's evidence
for "fractured" was strongest in this image, relative to the rest of it, never how strong it was.
Cold regions are fully transparent.
"""

from __future__ import annotations

from io import BytesIO

import numpy as np
from PIL import Image

from inference.imaging import picture_box, view

OVERLAY_SIZE = 128  # longer side of the PNG, in pixels
LEVELS = 64  # palette entries used for the ramp (index 0: transparent)
COLD = 0.25  # below this share of the map's range nothing is drawn
MAX_ALPHA = 200
# Blue -> cyan -> green -> yellow -> red: the usual heat-map order, legible over grey.
STOPS = np.array([(0, 0, 255), (0, 255, 255), (0, 255, 0), (255, 255, 0), (255, 0, 0)], dtype=np.float64)

# Each test-time view's inverse, to carry its map back onto the upright image.
INVERSE_VIEW = {"rot90": "rot270", "rot270": "rot90"}


def upright(maps: np.ndarray, name: str) -> np.ndarray:
    """``(N, h, w)`` maps computed on view ``name`` of the input, turned back to the input's frame."""
    return view(maps[..., None], INVERSE_VIEW.get(name, name))[..., 0]


def _palette() -> tuple[list[int], bytes]:
    t = np.linspace(0.0, 1.0, LEVELS - 1)
    position = t * (len(STOPS) - 1)
    low = np.minimum(position.astype(int), len(STOPS) - 2)
    frac = (position - low)[:, None]
    colours = STOPS[low] * (1 - frac) + STOPS[low + 1] * frac
    palette = [0, 0, 0] + [round(float(c)) for c in colours.ravel()]
    palette += [0] * (768 - len(palette))
    alpha = [0] + [round(MAX_ALPHA * (0.35 + 0.65 * float(v))) for v in t]
    return palette, bytes(alpha)


PALETTE, ALPHA = _palette()


def overlay_png(cam: np.ndarray, *, image_size: tuple[int, int], spec: dict) -> bytes:
    """A palette PNG (longer side ``OVERLAY_SIZE``, the picture's aspect ratio) of one ``(h, w)`` map."""
    cam = np.asarray(cam, dtype=np.float32)
    if cam.ndim != 2 or not np.isfinite(cam).all():
        raise ValueError(f"a heat map must be a finite 2-D array, got shape {cam.shape}")
    width, height = image_size
    size = int(spec["size"])
    square = Image.fromarray(cam, mode="F").resize((size, size), Image.Resampling.BILINEAR)
    fitted = square.crop(picture_box(width, height, size, spec.get("resize", "letterbox")))
    scale = OVERLAY_SIZE / max(width, height)
    out_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    values = np.asarray(fitted.resize(out_size, Image.Resampling.BILINEAR), dtype=np.float64)
    low, high = float(values.min()), float(values.max())  # over the picture, not the padding
    spread = high - low
    share = (values - low) / spread if spread > 1e-6 else np.zeros_like(values)
    share = np.clip((share - COLD) / (1 - COLD), 0.0, 1.0)
    index = np.where(share > 0, 1 + np.round(share * (LEVELS - 2)), 0).astype(np.uint8)
    image = Image.fromarray(index, mode="P")
    image.putpalette(PALETTE)
    image.info["transparency"] = ALPHA
    out = BytesIO()
    image.save(out, "PNG", optimize=True, transparency=ALPHA)
    return out.getvalue()
