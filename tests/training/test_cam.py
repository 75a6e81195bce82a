"""Heat maps: the class activation map as a second LiteRT output, and the version that serves it."""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import pytest
from PIL import Image

from inference.heatmap import overlay_png, picture_box
from inference.runtime import LiteModel
from training.testing import patch_images

SIZE, PATCH = 32, 6


def _patch_at(top: int, left: int) -> np.ndarray:
    x = np.full((1, SIZE, SIZE, 1), 0.08, dtype=np.float32)
    x[0, top : top + PATCH, left : left + PATCH, 0] = 0.9
    return x


def _lite(root, version="patch-test-cam") -> LiteModel:
    card = json.loads((root / version / "card.json").read_text())
    return LiteModel(root / version / card["serving_file"], cam_output=card["cam"]["output_name"])


@pytest.mark.parametrize("top,left", [(2, 2), (2, 24), (24, 2), (24, 24), (13, 13)])
def test_the_map_peak_follows_the_bright_patch_through_litert(cam_model_root, top, left):
    model = _lite(cam_model_root)
    probability, maps = model.with_maps(_patch_at(top, left))
    grid = maps.shape[1]
    row, col = np.unravel_index(np.argmax(maps[0]), maps[0].shape)
    cell = SIZE / grid
    centre = ((top + PATCH / 2) / cell, (left + PATCH / 2) / cell)
    assert abs(row + 0.5 - centre[0]) <= 1.5 and abs(col + 0.5 - centre[1]) <= 1.5, (row, col, centre)
    blank = np.full((1, SIZE, SIZE, 1), 0.08, dtype=np.float32)
    assert probability[0] > model(blank)[0] + 0.05, "the network was taught that a bright square is the finding"


def test_the_map_moves_when_the_patch_moves(cam_model_root):
    model = _lite(cam_model_root)
    _, left_maps = model.with_maps(_patch_at(13, 2))
    _, right_maps = model.with_maps(_patch_at(13, 24))
    left_col = np.unravel_index(np.argmax(left_maps[0]), left_maps[0].shape)[1]
    right_col = np.unravel_index(np.argmax(right_maps[0]), right_maps[0].shape)[1]
    assert right_col - left_col >= left_maps.shape[2] // 2


def test_exported_probabilities_equal_keras_and_the_source_file(cam_model_root):
    from training.cam import with_cam
    from training.forward import load_keras_model

    x, _, _ = patch_images(24, SIZE, seed=7)
    keras_model = load_keras_model(cam_model_root / "patch-test" / "model.keras")
    p_keras = np.asarray(keras_model(x, training=False)).reshape(-1)
    p_keras_cam, maps_keras = (np.asarray(t) for t in with_cam(keras_model)(x, training=False))
    np.testing.assert_array_equal(p_keras_cam.reshape(-1), p_keras)  # same layers, same weights
    logit = np.log(p_keras / (1 - p_keras))
    np.testing.assert_allclose(maps_keras.mean(axis=(1, 2)), logit, atol=1e-4)  # an exact decomposition

    source = LiteModel(cam_model_root / "patch-test" / "model.tflite")
    p_lite, maps_lite = _lite(cam_model_root).with_maps(x)
    np.testing.assert_allclose(p_lite, source(x), atol=1e-6)
    np.testing.assert_allclose(p_lite, p_keras, atol=1e-5)
    np.testing.assert_allclose(maps_lite, maps_keras, atol=1e-4)


def test_the_derived_version_holds_the_serving_file_only_and_names_its_source(cam_model_root):
    folder = cam_model_root / "patch-test-cam"
    source = json.loads((cam_model_root / "patch-test" / "card.json").read_text())
    card = json.loads((folder / "card.json").read_text())
    assert sorted(p.name for p in folder.iterdir()) == ["card.json", "model.tflite"]
    assert "model_file" not in card and "model_file_bytes" not in card
    assert card["version"] == "patch-test-cam" and card["derived_from"]["version"] == "patch-test"
    assert card["derived_from"]["reason"]
    data = (folder / "model.tflite").read_bytes()
    assert (card["serving_file_bytes"], card["serving_file_sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
    assert card["cam"]["grid"] == [8, 8] and card["cam"]["output_name"]
    assert card["thresholds"] == source["thresholds"] and card["input"] == source["input"]
    assert not list(cam_model_root.glob(".tmp-*")), "staged folders are renamed or removed"


def test_the_command_never_overwrites_and_refuses_the_seed_network(cam_model_root, settings, tmp_path):
    from django.core.management import CommandError, call_command

    settings.FRACTURE_MODELS_DIR = cam_model_root
    with pytest.raises(CommandError, match="never overwritten"):
        call_command("export_serving", "--model", "patch-test", "--with-cam")
    with pytest.raises(CommandError, match="already serves a heat map"):
        call_command("export_serving", "--model", "patch-test-cam", "--with-cam", "--out", str(tmp_path))

    from training.cam import CamUnsupported, with_cam
    from training.networks import build_seed, input_spec

    with pytest.raises(CamUnsupported, match="seed"):
        with_cam(build_seed(input_spec("seed", 32)))


def test_an_averaged_ensemble_maps_to_the_mean_of_its_members_maps():
    import keras

    from training.cam import with_cam
    from training.networks import build_default, combine

    keras.utils.set_random_seed(3)
    spec = {"size": SIZE, "color": "grey", "resize": "letterbox"}
    members = [build_default(spec, widths=(8, 16), name=f"m{i}") for i in range(2)]
    x, _, _ = patch_images(4, SIZE)
    p, maps = (np.asarray(t) for t in with_cam(combine("default", spec, members))(x, training=False))
    member_maps = [np.asarray(with_cam(m)(x, training=False)[1]) for m in members]
    np.testing.assert_allclose(maps, np.mean(member_maps, axis=0), atol=1e-6)
    np.testing.assert_array_equal(p, np.asarray(combine("default", spec, members)(x, training=False)))


def test_the_predictor_returns_maps_only_for_a_version_with_a_cam_block(cam_model, tiny_model_root, settings):
    from inference.predictor import get_predictor

    image = Image.fromarray((_patch_at(24, 2)[0, :, :, 0] * 255).astype(np.uint8))
    result = get_predictor().predict_images([image])[0]
    assert result.model_version == "patch-test-cam" and result.activation_map.shape == (8, 8)
    plain = get_predictor("patch-test").predict_images([image])[0]
    assert plain.activation_map is None and plain.probability == pytest.approx(result.probability, abs=1e-6)


def test_the_overlay_png_covers_the_picture_not_the_letterbox():
    cam = np.zeros((8, 8), dtype=np.float32)
    cam[:, 0] = 5.0  # hot at the square's left edge, which is padding for a tall picture
    cam[:, 2] = 3.0  # inside the picture
    box = picture_box(50, 100, 32, "letterbox")
    assert box == (8, 0, 24, 32)
    png = Image.open(io.BytesIO(overlay_png(cam, image_size=(50, 100), spec={"size": 32, "resize": "letterbox"})))
    assert png.mode == "P" and png.size == (64, 128)
    alpha = np.frombuffer(png.info["transparency"], dtype=np.uint8)[np.asarray(png)]
    assert alpha[:, :8].mean() > alpha[:, -8:].mean(), "hot on the picture's left, cold on its right"
    assert (alpha[:, -8:] == 0).all(), "cold regions are transparent"
    with pytest.raises(ValueError, match="finite"):
        overlay_png(np.full((8, 8), np.nan), image_size=(10, 10), spec={"size": 32})


def test_the_command_writes_a_candidate_heat_map_version_where_asked(cam_model_root, tmp_path):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    with override_models_dir(cam_model_root):
        call_command("export_serving", "--model", "patch-test", "--with-cam", "--out", str(tmp_path), stdout=out)
    folder = tmp_path / "patch-test-cam"
    card = json.loads((folder / "card.json").read_text())
    assert card["derived_from"]["version"] == "patch-test" and card["cam"]["grid"] == [8, 8]
    assert "8x8 heat map" in out.getvalue() and "serves nothing until activated" in out.getvalue()
    probe = _patch_at(13, 13)
    source = LiteModel(cam_model_root / "patch-test" / "model.tflite")(probe)
    derived, maps = _lite(tmp_path).with_maps(probe)
    assert np.allclose(derived, source, atol=1e-5) and maps.shape == (1, 8, 8)


def override_models_dir(root):
    from django.test import override_settings

    return override_settings(FRACTURE_MODELS_DIR=root, FRACTURE_MODEL="")
