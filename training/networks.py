"""Network definitions: the prototype's CNN (``seed``) and the project's default."""

from __future__ import annotations

import keras
from keras import layers

from training.recipes import Network

ARCHITECTURES = ("default", "seed")

# Input specs for ``imaging.to_model_input``; stored in every card.
INPUT_SPECS: dict[str, dict] = {
    "default": {"size": 160, "color": "grey", "resize": "letterbox"},
    # The prototype read RGB at 150x150 with Keras' stretching directory iterator.
    "seed": {"size": 150, "color": "rgb", "resize": "stretch"},
}


def input_spec(arch: str, image_size: int | None = None) -> dict:
    spec = dict(INPUT_SPECS[arch])
    if image_size:
        spec["size"] = int(image_size)
    return spec


def input_shape(spec: dict) -> tuple[int, int, int]:
    return (spec["size"], spec["size"], 3 if spec.get("color") == "rgb" else 1)


def build_seed(spec: dict, *, name: str = "seed") -> keras.Model:
    """The prototype's network, layer for layer (3 conv blocks, dense 512, dropout 0.5)."""
    return keras.Sequential(
        [
            keras.Input(input_shape(spec)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(128, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(512, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(1, activation="sigmoid"),
        ],
        name=name,
    )


def _conv_bn(x, filters: int, kernel: int, stride: int = 1):
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x)


def _sep_block(x, filters: int, stride: int):
    """Residual depthwise-separable block: most of a full conv's reach at a fraction of its cost."""
    shortcut = x
    y = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(x)
    y = layers.BatchNormalization()(y)
    y = layers.ReLU()(y)
    y = layers.Conv2D(filters, 1, use_bias=False)(y)
    y = layers.BatchNormalization()(y)
    y = layers.ReLU()(y)
    y = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(y)
    y = layers.BatchNormalization()(y)
    y = layers.ReLU()(y)
    y = layers.Conv2D(filters, 1, use_bias=False)(y)
    y = layers.BatchNormalization()(y)
    if stride != 1 or shortcut.shape[-1] != filters:
        if stride != 1:
            shortcut = layers.AveragePooling2D(stride, padding="same")(shortcut)
        shortcut = layers.Conv2D(filters, 1, use_bias=False)(shortcut)
        shortcut = layers.BatchNormalization()(shortcut)
    return layers.ReLU()(layers.Add()([y, shortcut]))


def build_default(
    spec: dict,
    *,
    widths: tuple[int, ...],
    dropout: float = 0.3,
    name: str = "default",
) -> keras.Model:
    """Compact greyscale CNN: strided stem, separable residual stages, global pooling.

    Global average pooling (not a dense layer over a flattened map) is what keeps the file small
    and stops the network from memorising where in the frame things are.
    """
    inputs = keras.Input(input_shape(spec), name="image")
    x = _conv_bn(inputs, widths[0], 3, stride=2)
    for filters in widths[1:]:
        x = _sep_block(x, filters, stride=2)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(1, activation="sigmoid", name="fractured")(x)
    return keras.Model(inputs, outputs, name=name)


def build(arch: str, spec: dict, network: Network | None = None, *, name: str | None = None) -> keras.Model:
    """The architecture's network; ``network`` holds the default network's settings (its recipe's)."""
    if arch == "seed":
        return build_seed(spec, name=name or "seed")
    if arch == "default":
        if network is None:
            raise ValueError("the default network needs its settings (recipe.network)")
        return build_default(spec, widths=network.widths, dropout=network.dropout, name=name or "default")
    raise ValueError(f"unknown architecture {arch!r}; choose from {', '.join(ARCHITECTURES)}")


def combine(arch: str, spec: dict, members: list[keras.Model]) -> keras.Model:
    """One model from several trained networks: the mean of their probabilities.

    A single member is returned as it is. The ensemble is one Keras graph (and one LiteRT file),
    so evaluation, ``classify`` and the worker serve it like any other version.
    """
    if len(members) == 1:
        return members[0]
    inputs = keras.Input(input_shape(spec), name="image")
    outputs = layers.Average(name="fractured")([member(inputs) for member in members])
    return keras.Model(inputs, outputs, name=f"{arch}_ensemble")
