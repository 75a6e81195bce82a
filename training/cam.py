"""Class activation maps (Zhou et al., 2016) as a second output of a served network (training only).

A network that ends in global average pooling and one sigmoid unit computes its logit as
``mean over (h, w) of (A[h, w] . w) + b``, where ``A`` is the last convolutional block's output,
``w`` the final dense kernel and ``b`` its bias. The map ``M[h, w] = A[h, w] . w + b`` is then an
exact spatial decomposition of the logit (``mean(M)`` is the logit); an ensemble's map is the mean
of its members' maps (the served pretrained network: five fold heads on one frozen trunk).

``with_cam`` returns a Keras model with two outputs: the probability, computed by the very layers
and weights of the source model, and the map. The seed network (flatten, dense 512, dense 1) has
no such decomposition and is refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CAM_OUTPUT = "activation_map"


class CamUnsupported(ValueError):
    """The network has no global-average-pooling classifier to read a class activation map from."""


def _pool_layer(model):
    import keras

    pools = [layer for layer in model.layers if isinstance(layer, keras.layers.GlobalAveragePooling2D)]
    return pools[0] if len(pools) == 1 else None


def _leaf_with_cam(model):
    """A leaf network (pooling, optional dropout, one sigmoid unit) with its map as a second output."""
    import keras

    pool = _pool_layer(model)
    after = model.layers[model.layers.index(pool) + 1 :]
    dense = after[-1] if after else None
    if (
        not isinstance(dense, keras.layers.Dense)
        or dense.units != 1
        or any(not isinstance(layer, keras.layers.Dropout) for layer in after[:-1])
        or len(model.outputs) != 1
        or model.outputs[0] is not dense.output
    ):
        raise CamUnsupported(f"{model.name}: global pooling is not followed by dropout and one dense unit")
    kernel, bias = (np.asarray(v, dtype=np.float32) for v in dense.get_weights())
    features = pool.input
    cam = keras.ops.add(keras.ops.matmul(features, kernel[:, 0]), bias[0])
    return keras.Model(model.inputs, [model.outputs[0], cam], name=f"{model.name}_cam")


def with_cam(model):
    """``model`` with a second output: its class activation map, ``(N, h, w)`` float32.

    The first output is the source model's probability through the same layers and weights.
    Supported: a leaf network ending in global pooling and one sigmoid unit, and a functional
    network whose nested leaf models are combined by averaging (the pretrained fold heads, the
    small networks' ensembles).
    """
    import keras

    if _pool_layer(model) is not None:
        leaf = _leaf_with_cam(model)
        inputs = keras.Input(model.input_shape[1:], name=model.inputs[0].name)
        probability, cam = leaf(inputs)
        return keras.Model(inputs, [probability, _named(cam)], name=f"{model.name}_cam")

    cams: list = []
    leaves: dict[int, object] = {}

    def call(layer, *args, **kwargs):
        if isinstance(layer, keras.Model) and _pool_layer(layer) is not None:
            leaf = leaves.setdefault(id(layer), _leaf_with_cam(layer))
            probability, cam = leaf(*args, **kwargs)
            cams.append(cam)
            return probability
        if isinstance(layer, keras.Model) and any(isinstance(inner, keras.Model) for inner in layer.layers):
            raise CamUnsupported(f"{layer.name}: nested ensembles are not supported")
        return layer(*args, **kwargs)

    try:
        clone = keras.models.clone_model(model, clone_function=lambda layer: layer, call_function=call)
    except ValueError as exc:
        raise CamUnsupported(f"{model.name}: {exc}") from exc
    if not cams:
        raise CamUnsupported(
            f"{model.name} has no global-average-pooling classifier (the seed network flattens its last block)"
        )
    _check_averaged(model, len(cams))
    cam = cams[0] if len(cams) == 1 else keras.layers.Average(name="heads_mean_map")(cams)
    return keras.Model(clone.inputs, [clone.outputs[0], _named(cam)], name=f"{model.name}_cam")


def _check_averaged(model, n_leaves: int) -> None:
    """Only a plain mean of the leaves' probabilities has the mean of their maps as its map."""
    import keras

    if n_leaves == 1:
        return
    if not any(isinstance(layer, keras.layers.Average) for layer in model.layers):
        raise CamUnsupported(f"{model.name}: its {n_leaves} members are not combined by averaging")


def _named(tensor):
    import keras

    return keras.layers.Identity(name=CAM_OUTPUT)(tensor)


def export_with_cam(model, path: Path) -> dict:
    """Export ``with_cam(model)`` to LiteRT at ``path``; return the card entries (serving file and ``cam``)."""
    from ai_edge_litert.interpreter import Interpreter

    from training.serving import export_serving

    combined = with_cam(model)
    entries = export_serving(combined, path)
    outputs = Interpreter(model_path=str(path)).get_output_details()
    grid = tuple(int(n) for n in combined.outputs[1].shape[1:3])
    maps = [o for o in outputs if tuple(int(n) for n in o["shape"][1:]) == grid]
    probs = [o for o in outputs if int(np.prod(o["shape"][1:])) == 1]
    if len(maps) != 1 or len(probs) != 1:
        raise RuntimeError(f"exported {path} has outputs {[o['name'] for o in outputs]}; expected a map and a score")
    cam = {
        "method": "class activation map: last convolutional block . final dense kernel + bias, mean over members",
        "grid": list(grid),
        "output_name": maps[0]["name"],
        "output_index": outputs.index(maps[0]),
        "probability_output_name": probs[0]["name"],
        "scale": "logit, before calibration: a network's map averages to its logit, an ensemble's to the mean logit",
    }
    return {**entries, "cam": cam}
