"""Export a Keras model to the LiteRT serving file that ``inference.runtime`` runs."""

from __future__ import annotations

import hashlib
from pathlib import Path

from inference.runtime import SERVING_NAME

__all__ = ["SERVING_NAME", "export_serving"]


def export_serving(model, path: Path) -> dict:
    """Convert a Keras model to a float32 LiteRT flatbuffer at ``path``.

    Returns the card entries that name it, with its size and SHA-256 so that ``manage.py check``
    can tell a damaged file (a flatbuffer has no checksum of its own).
    """
    import tensorflow as tf  # lazy: only training and export pay for TensorFlow

    data = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    Path(path).write_bytes(data)
    return {
        "serving_file": Path(path).name,
        "serving_file_bytes": len(data),
        "serving_file_sha256": hashlib.sha256(data).hexdigest(),
    }
