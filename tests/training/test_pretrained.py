"""The pretrained network: weights read without PyTorch, proved on natural photos, and the
cross-validated ensemble that ``retrain --arch pretrained`` ships."""

from __future__ import annotations

import json
import pickle
import struct
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from PIL import Image

from training.pretrained import (
    WEIGHTS_SHA256,
    PretrainedWeightsError,
    load_efficientnet_lite0,
    read_state_dict,
    weights_path,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

# ImageNet-1k class indices.
CAT_CLASSES = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE_CLASSES = {967, 968, 504}  # espresso, cup, coffee mug


@pytest.fixture(scope="module")
def imagenet_network():
    from training.efficientnet import build_head, build_trunk, load_imagenet_weights

    state = load_efficientnet_lite0()
    trunk = build_trunk(224, 15, channels=3)
    head = build_head(tuple(trunk.output.shape[1:]), 15, imagenet=True)
    copied = load_imagenet_weights(trunk, state) + load_imagenet_weights(head, state)
    return trunk, head, copied


def _top5(network, photo: np.ndarray) -> set[int]:
    trunk, head, _ = network
    image = Image.fromarray(photo).convert("RGB").resize((224, 224), Image.Resampling.BILINEAR)
    probabilities = np.asarray(head(trunk(np.asarray(image, np.float32)[None] / 255.0)))[0]
    return set(np.argsort(-probabilities)[:5].tolist())


def test_every_layer_gets_its_imagenet_weights(imagenet_network):
    trunk, head, copied = imagenet_network
    with_weights = [layer for model in (trunk, head) for layer in model.layers if layer.weights]
    assert copied == len(with_weights)


@pytest.mark.parametrize(("photo", "classes"), [("chelsea", CAT_CLASSES), ("coffee", COFFEE_CLASSES)])
def test_natural_photos_get_a_correct_imagenet_class_in_the_top_five(imagenet_network, photo, classes):
    import skimage.data

    assert _top5(imagenet_network, getattr(skimage.data, photo)()) & classes


def test_a_photo_of_another_kind_gets_none_of_those_classes(imagenet_network):
    """The check above can fail: a rocket is neither a cat nor coffee."""
    import skimage.data

    assert not _top5(imagenet_network, skimage.data.rocket()) & (CAT_CLASSES | COFFEE_CLASSES)


def test_the_weights_file_is_pinned(tmp_path):
    other = tmp_path / "other.pth"
    data = bytearray(weights_path().read_bytes())
    data[-1] ^= 1
    other.write_bytes(bytes(data))
    with pytest.raises(PretrainedWeightsError, match="not the pinned weights file"):
        load_efficientnet_lite0(other)
    assert WEIGHTS_SHA256 in json.dumps(__import__("training.pretrained", fromlist=["PROVENANCE"]).PROVENANCE)


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


def _legacy_file(payload) -> bytes:
    """PyTorch's legacy layout: magic, protocol, sys info, the object, the storage keys."""
    parts = [pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2), pickle.dumps(1001, protocol=2)]
    parts.append(pickle.dumps({"little_endian": True}, protocol=2))
    parts.append(pickle.dumps(payload, protocol=2))
    parts.append(pickle.dumps([], protocol=2))
    return b"".join(parts)


def test_a_weights_file_that_would_run_code_is_refused():
    with pytest.raises(PretrainedWeightsError, match=r"refusing to load (posix|os)\.system"):
        read_state_dict(_legacy_file({"x": _Evil()}))


def test_a_file_that_is_not_a_legacy_weights_file_is_refused():
    with pytest.raises(PretrainedWeightsError, match="bad magic number"):
        read_state_dict(pickle.dumps(42) + struct.pack("<q", 0))


@pytest.mark.slow
@pytest.mark.fits_model
@pytest.mark.django_db
def test_retrain_pretrained_ships_a_calibrated_cross_validated_ensemble(tiny_dataset, tmp_path, settings):
    from inference.cards import read_card, validate_card
    from inference.predictor import get_predictor
    from training.cache import ImageCache
    from training.dataset import as_float, load_split
    from training.forward import batched_probabilities, load_keras_model

    settings.FRACTURE_MODELS_DIR = tmp_path / "models"
    settings.FRACTURE_CACHE_DIR = tmp_path / "cache"
    out = StringIO()
    call_command(
        "retrain", "--data", str(tiny_dataset), "--arch", "pretrained", "--epochs", "1", "--image-size", "32",
        stdout=out, stderr=StringIO(),
    )  # fmt: skip
    (folder,) = [p for p in settings.FRACTURE_MODELS_DIR.iterdir() if p.is_dir()]
    card = read_card(folder)
    assert validate_card(card) == []
    assert card["architecture"] == "pretrained"
    assert card["pretrained"]["sha256"] == WEIGHTS_SHA256 and card["pretrained"]["licence"] == "Apache-2.0"
    assert [f["fold"] for f in card["training"]["folds"]] == [1, 2, 3, 4, 5]
    # every train + val image is scored once out of fold; the card reports it per image, group and kind
    cv = card["metrics"]["cross_validation"]
    assert cv["n_images"] == 48 and cv["per_group"]["n"] == 48
    assert {"test", "cross_validation"} <= set(card["metrics"])
    assert card["calibration"]["method"] in ("temperature", "platt")
    assert 0 <= card["calibration"]["ece_cross_fitted"] <= 1
    assert (folder / "reliability.png").is_file()
    assert 0 <= card["thresholds"]["high_sensitivity"] <= card["thresholds"]["balanced"] <= 1

    # Served through LiteRT, calibrated as the card says, equal to the Keras graph's output.
    predictor = get_predictor(folder.name)
    test = load_split(tiny_dataset, "test", card["input"], ImageCache(settings.FRACTURE_CACHE_DIR))
    x = as_float(test.x)
    raw = batched_probabilities(load_keras_model(folder / "model.keras"), x, [])
    a, b = card["calibration"]["a"], card["calibration"]["b"]
    expected = 1 / (1 + np.exp(-(a * np.log(raw / (1 - raw)) + b)))
    np.testing.assert_allclose(predictor.probabilities(x), expected, atol=1e-4)
    assert "fold 5/5" in out.getvalue()


def test_the_served_graph_is_the_frozen_mean_of_the_fold_heads():
    import keras

    from training.cv_trainer import build_serving
    from training.efficientnet import build_trunk, load_imagenet_weights
    from training.transfer import HeadRecipe, build_pretrained_head

    recipe = HeadRecipe(size=64)
    heads = [build_pretrained_head(recipe, (2, 2, 192), name=f"head_{i}") for i in (1, 2)]
    for i, head in enumerate(heads):  # heads that differ, as trained ones do
        head.get_layer("fractured").set_weights([np.full((1280, 1), 0.01 * (i + 1), np.float32), np.zeros(1)])
    served = build_serving(recipe, heads)
    x = np.random.default_rng(0).random((3, 64, 64, 1), dtype=np.float32)
    trunk = build_trunk(64, recipe.split, channels=1)
    load_imagenet_weights(trunk, load_efficientnet_lite0())
    features = trunk(x, training=False)
    per_head = [np.asarray(h(features, training=False)) for h in heads]
    assert not np.allclose(per_head[0], per_head[1])
    np.testing.assert_allclose(np.asarray(served(x, training=False)), np.mean(per_head, axis=0), atol=1e-5)
    before = [w.copy() for w in served.get_weights()]
    served(x)  # however it is called, no statistic of the stored weights moves
    served(x, training=True)
    assert all(np.array_equal(a, b) for a, b in zip(before, served.get_weights(), strict=True))
    assert not served.trainable_weights and isinstance(served, keras.Model)
