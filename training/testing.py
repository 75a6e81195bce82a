"""Helpers for other apps' tests: a real, tiny model version built in seconds on a CPU."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from inference.cards import write_card
from inference.registry import MODEL_NAME
from training.serving import SERVING_NAME, export_serving


def synthetic_images(n: int, size: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Bright bars on black; half of them carry a dark crack across the bar."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, size, size, 1), dtype=np.float32)
    y = np.arange(n) % 2
    for i in range(n):
        lo, hi = size // 3, size - size // 3
        x[i, :, lo:hi, 0] = 0.6 + 0.3 * rng.random()
        if y[i]:
            row = int(rng.integers(size // 4, 3 * size // 4))
            x[i, row : row + max(1, size // 16), lo:hi, 0] = 0.0
    return x, y.astype(np.float32)


def build_tiny_model_version(root: Path, *, version: str = "tiny-test", image_size: int = 32) -> Path:
    """Write ``root/version/`` with a briefly fitted Keras model and a valid card; return it."""

    x, y = synthetic_images(32, image_size)
    return _write_tiny_version(root, version, image_size, x, y, epochs=2, batch_size=16)


def _write_tiny_version(
    root: Path, version: str, image_size: int, x: np.ndarray, y: np.ndarray, *, epochs: int, batch_size: int
) -> Path:
    """Fit a tiny default network on ``x, y`` and write it as a servable version with a valid card."""
    import keras

    from training.networks import build_default

    keras.utils.set_random_seed(0)
    spec = {"size": int(image_size), "color": "grey", "resize": "letterbox"}
    model = build_default(spec, widths=(8, 16), dropout=0.0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
    model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0)

    folder = Path(root) / version
    folder.mkdir(parents=True, exist_ok=False)
    model.save(folder / MODEL_NAME)
    card = {
        "version": version,
        "architecture": "default",
        "created_at": datetime.now(UTC).isoformat(),
        "model_file": MODEL_NAME,
        **export_serving(model, folder / SERVING_NAME),
        "input": spec,
        "thresholds": {"balanced": 0.5, "high_sensitivity": 0.3},
        "default_threshold": "balanced",
        "labels": {"positive": "fractured", "negative": "not_fractured"},
        "metrics": {},
        "notes": "Synthetic test model: never serve it to clinicians.",
    }
    write_card(folder, card)
    return folder


def patch_images(n: int, size: int, *, seed: int = 0, patch: int = 6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dim noise; half of the images carry a bright square (the synthetic "fracture") anywhere.

    Returns the images, the labels and each square's top-left corner (``-1`` where there is none).
    """
    rng = np.random.default_rng(seed)
    x = (0.15 * rng.random((n, size, size, 1))).astype(np.float32)
    y = (np.arange(n) % 2).astype(np.float32)
    corners = np.full((n, 2), -1)
    for i in np.flatnonzero(y):
        top, left = rng.integers(0, size - patch, 2)
        x[i, top : top + patch, left : left + patch, 0] = 0.9
        corners[i] = top, left
    return x, y, corners


def build_patch_model_version(root: Path, *, version: str = "patch-test", image_size: int = 32) -> Path:
    """A tiny default network taught to find a bright square, written like ``build_tiny_model_version``.

    Its class activation map has something to find: the heat-map tests move the square and
    expect the map's peak to follow.
    """
    x, y, _ = patch_images(256, image_size)
    return _write_tiny_version(root, version, image_size, x, y, epochs=6, batch_size=32)
