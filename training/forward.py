"""The Keras forward pass for training and evaluation (TensorFlow); serving uses LiteRT.

``batched_probabilities`` accepts a Keras model or a ``LiteModel`` and averages the identity view
with each test-time view, exactly as ``inference.predictor`` does for the served file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from inference.errors import ModelUnavailable
from inference.imaging import VIEWS
from inference.predictor import view_mean_probabilities
from inference.runtime import LiteModel

__all__ = ["batched_probabilities", "clear_forwards", "load_keras_model"]


def batched_probabilities(model, batch: np.ndarray, tta: list[str]) -> np.ndarray:
    """Mean probability over the identity view and each test-time view."""
    unknown = [name for name in tta if name not in VIEWS]
    if unknown:
        raise ModelUnavailable(f"unknown test-time augmentation {unknown[0]!r} in model card")
    return view_mean_probabilities(_compiled_forward(model), batch, tta)


_forwards: dict[int, tuple[object, object]] = {}


def _compiled_forward(model):
    """A graph-compiled forward pass per model, built on first use.

    Eager Keras calls pay Python overhead for every layer (~50 ms per image for the default
    network's 60 layers, more than its arithmetic); a tf.function runs the whole graph at once
    and lets TensorFlow fuse convolution, batch norm and activation. Variables are captured by
    reference, so weights changed during training are used as they are.
    """
    if isinstance(model, LiteModel):
        return model
    entry = _forwards.get(id(model))
    if entry is None or entry[0] is not model:
        import tensorflow as tf

        fn = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
        entry = (model, fn)
        _forwards[id(model)] = entry
    return entry[1]


def clear_forwards() -> None:
    _forwards.clear()


def load_keras_model(path: Path):
    if not path.is_file():
        raise ModelUnavailable(f"model file missing: {path}")
    import keras  # lazy: only processes that train or evaluate pay for TensorFlow

    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for a bad file; all mean "unusable".
        raise ModelUnavailable(f"model file {path} cannot be loaded: {exc}") from exc
