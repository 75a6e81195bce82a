"""Custom Keras layers saved inside model files. Imported before any model is loaded."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="fracture")
class PerImageStandardize(keras.layers.Layer):
    """Zero mean, unit variance per image, inside the network (so serving cannot forget it).

    Optional (``network.standardize`` in a recipe) and off in the shipped recipe: on validation
    it discarded exposure cues the data carries and the network underfit (training/EXPERIMENTS.md).
    """

    def call(self, inputs):
        mean = ops.mean(inputs, axis=(1, 2, 3), keepdims=True)
        std = ops.std(inputs, axis=(1, 2, 3), keepdims=True)
        return (inputs - mean) / ops.maximum(std, 1e-3)
