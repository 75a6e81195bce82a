"""Custom Keras layers saved inside model files. Imported before any model is loaded."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="fracture")
class PerImageStandardize(keras.layers.Layer):
    """Zero mean, unit variance per image.

    Radiographs from different scanners and web figures differ wildly in exposure and contrast;
    standardising each image inside the network makes the served model immune to that without
    any extra preprocessing step that serving could forget.
    """

    def call(self, inputs):
        mean = ops.mean(inputs, axis=(1, 2, 3), keepdims=True)
        std = ops.std(inputs, axis=(1, 2, 3), keepdims=True)
        return (inputs - mean) / ops.maximum(std, 1e-3)
