"""EfficientNet-Lite0 in Keras, with the ImageNet weights of ``training.pretrained``.

Lite0 is EfficientNet-B0 made for mobile runtimes: no squeeze-and-excitation, ReLU6, a fixed
32-channel stem and 1280-channel head. The layers carry the PyTorch names (``blocks.N.expand``
for ``_blocks.N._expand_conv``, ...), so the weights map one to one. Padding is TensorFlow's
"same" (the weights were trained with it) and batch norm uses epsilon 1e-3.

The fracture model splits the network in two: a frozen ``trunk`` (stem and blocks up to
``split``) whose outputs training caches once per image and view, and a trainable ``head``
(the remaining blocks, the 1x1 head convolution, pooling and one sigmoid unit).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

# (kernel, stride, expansion, output channels) of the 16 MBConv blocks.
BLOCKS: tuple[tuple[int, int, int, int], ...] = (
    (3, 1, 1, 16),
    (3, 2, 6, 24), (3, 1, 6, 24),
    (5, 2, 6, 40), (5, 1, 6, 40),
    (3, 2, 6, 80), (3, 1, 6, 80), (3, 1, 6, 80),
    (5, 1, 6, 112), (5, 1, 6, 112), (5, 1, 6, 112),
    (5, 2, 6, 192), (5, 1, 6, 192), (5, 1, 6, 192), (5, 1, 6, 192),
    (3, 1, 6, 320),
)  # fmt: skip
STEM, HEAD = 32, 1280
BN_EPSILON = 1e-3


def _bn(name: str):
    return layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.99, name=name)


def _block(x, index: int, in_channels: int):
    kernel, stride, expand, out = BLOCKS[index]
    p = f"blocks.{index}."
    y = x
    if expand != 1:
        y = layers.Conv2D(in_channels * expand, 1, use_bias=False, name=p + "expand")(y)
        y = layers.ReLU(6.0, name=p + "expand_relu")(_bn(p + "bn0")(y))
    y = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False, name=p + "depthwise")(y)
    y = layers.ReLU(6.0, name=p + "depthwise_relu")(_bn(p + "bn1")(y))
    y = layers.Conv2D(out, 1, use_bias=False, name=p + "project")(y)
    y = _bn(p + "bn2")(y)
    if stride == 1 and in_channels == out:
        y = layers.Add(name=p + "add")([x, y])
    return y


def channels_after(index: int) -> int:
    """Channels of block ``index``'s output (``-1``: the stem's)."""
    return STEM if index < 0 else BLOCKS[index][3]


def build_trunk(size: int, split: int, *, channels: int = 1, name: str = "trunk") -> keras.Model:
    """Stem and blocks ``0..split`` on an HxWxC image in [0, 1] (grey is fed to all three colours)."""
    inputs = keras.Input((size, size, channels), name="image")
    # The weights expect (pixel - 127) / 128 on 0..255 pixels.
    x = layers.Rescaling(255.0 / 128.0, offset=-127.0 / 128.0, name="scale")(inputs)
    x = layers.Conv2D(STEM, 3, strides=2, padding="same", use_bias=False, name="stem")(x)
    x = layers.ReLU(6.0, name="stem_relu")(_bn("stem_bn")(x))
    for index in range(split + 1):
        x = _block(x, index, channels_after(index - 1))
    return keras.Model(inputs, x, name=name)


def build_head(
    feature_shape: tuple[int, int, int], split: int, *, dropout: float = 0.2, imagenet: bool = False, name="head"
) -> keras.Model:
    """Blocks ``split+1..15``, the 1280-channel head, pooling, then one sigmoid unit (or ImageNet's 1000)."""
    inputs = keras.Input(feature_shape, name="features")
    x = inputs
    for index in range(split + 1, len(BLOCKS)):
        x = _block(x, index, channels_after(index - 1))
    x = layers.Conv2D(HEAD, 1, use_bias=False, name="head_conv")(x)
    x = layers.ReLU(6.0, name="head_relu")(_bn("head_bn")(x))
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    if imagenet:
        outputs = layers.Dense(1000, activation="softmax", name="fc")(x)
    else:
        x = layers.Dropout(dropout, name="dropout")(x)
        outputs = layers.Dense(1, activation="sigmoid", name="fractured")(x)
    return keras.Model(inputs, outputs, name=name)


def load_imagenet_weights(model: keras.Model, state: dict[str, np.ndarray]) -> int:
    """Copy the PyTorch state dict into every layer of ``model`` that has a counterpart; returns how many."""
    copied = 0
    for layer in model.layers:
        values = _weights_for(layer, state)
        if values is not None:
            layer.set_weights(values)
            copied += 1
    return copied


def _torch_prefix(name: str) -> str | None:
    if name == "stem":
        return "_conv_stem"
    if name == "stem_bn":
        return "_bn0"
    if name == "head_conv":
        return "_conv_head"
    if name == "head_bn":
        return "_bn1"
    if name == "fc":
        return "_fc"
    if name.startswith("blocks."):
        index, part = name.split(".")[1:]
        part = {"expand": "_expand_conv", "depthwise": "_depthwise_conv", "project": "_project_conv"}.get(
            part, f"_{part}"
        )
        return f"_blocks.{index}.{part}"
    return None


def _weights_for(layer, state: dict[str, np.ndarray]) -> list[np.ndarray] | None:
    prefix = _torch_prefix(layer.name)
    if prefix is None or not layer.weights:
        return None
    if isinstance(layer, layers.BatchNormalization):
        return [state[f"{prefix}.{k}"] for k in ("weight", "bias", "running_mean", "running_var")]
    if isinstance(layer, layers.Dense):
        return [state[f"{prefix}.weight"].T, state[f"{prefix}.bias"]]
    kernel = state[f"{prefix}.weight"]
    if isinstance(layer, layers.DepthwiseConv2D):
        return [kernel.transpose(2, 3, 0, 1)]  # (C, 1, kh, kw) -> (kh, kw, C, 1)
    kernel = kernel.transpose(2, 3, 1, 0)  # OIHW -> HWIO
    wanted = layer.kernel.shape[2]
    if kernel.shape[2] == 3 and wanted == 1:
        kernel = kernel.sum(axis=2, keepdims=True)  # grey fed to R, G and B alike
    return [kernel]
