"""Model registry and the inference module's contract."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from inference.cards import read_card
from inference.predictor import ModelUnavailable, PredictionResult, clear_cache, get_predictor
from inference.registry import resolve_version_dir
from training.testing import build_tiny_model_version


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    build_tiny_model_version(root, version="a-old")
    folder = build_tiny_model_version(root, version="b-new")
    return root, folder


@pytest.fixture
def models(settings, tiny_root):
    settings.FRACTURE_MODELS_DIR, settings.FRACTURE_MODEL = tiny_root[0], ""
    clear_cache()
    yield tiny_root[0]
    clear_cache()


def test_resolves_explicit_setting_and_newest(models, settings):
    assert resolve_version_dir("a-old").name == "a-old"
    assert resolve_version_dir().name == "b-new"
    settings.FRACTURE_MODEL = "a-old"
    assert resolve_version_dir().name == "a-old"
    with pytest.raises(ModelUnavailable, match="not found"):
        resolve_version_dir("nope")
    with pytest.raises(ModelUnavailable):
        resolve_version_dir("../a-old")


def test_empty_folder_fails_loudly(settings, tmp_path, no_database):
    settings.FRACTURE_MODELS_DIR, settings.FRACTURE_MODEL = tmp_path, ""
    with pytest.raises(ModelUnavailable, match="retrain"):
        get_predictor()


@pytest.mark.django_db
def test_a_database_without_an_activation_serves_nothing(models):
    with pytest.raises(ModelUnavailable, match="no model version is activated"):
        get_predictor()


def test_corrupt_card_and_model_fail_loudly(settings, tmp_path):
    settings.FRACTURE_MODELS_DIR, settings.FRACTURE_MODEL = tmp_path, ""
    folder = build_tiny_model_version(tmp_path, version="broken")
    (folder / "model.tflite").write_bytes(b"not a flatbuffer")
    with pytest.raises(ModelUnavailable, match="cannot be loaded"):
        get_predictor("broken")
    card = read_card(folder)
    del card["serving_file"]  # serving never falls back to the Keras file (no TensorFlow in a worker)
    (folder / "card.json").write_text(json.dumps(card))
    clear_cache()
    with pytest.raises(ModelUnavailable, match="names no serving file"):
        get_predictor("broken")
    (folder / "card.json").write_text("{ not json")
    with pytest.raises(ModelUnavailable, match="unreadable"):
        read_card(folder)


def test_predictor_contract(models, no_database):  # no database (`classify`): the newest servable folder
    predictor = get_predictor()
    assert predictor is get_predictor("b-new")  # cached per process
    assert predictor.version == "b-new" and predictor.threshold == 0.5
    assert json.loads((models / "b-new" / "card.json").read_text())["version"] == "b-new"
    results = predictor.predict_images([Image.new("L", (50, 80), 128), Image.new("RGB", (90, 20), (9, 9, 9))])
    assert len(results) == 2
    for r in results:
        assert isinstance(r, PredictionResult)
        assert 0.0 <= r.probability <= 1.0
        assert r.label == ("fractured" if r.probability >= r.threshold else "not_fractured")
        assert r.model_version == "b-new" and r.inference_ms > 0 and r.threshold_name == "balanced"


def test_served_litert_file_gives_the_keras_probabilities(settings, tmp_path):
    """The worker serves the LiteRT export; evaluation may run the Keras file: they must agree."""
    import numpy as np

    from inference.runtime import LiteModel
    from training.forward import batched_probabilities, load_keras_model

    folder = build_tiny_model_version(tmp_path, version="pair")
    batch = np.random.default_rng(3).random((5, 32, 32, 1), dtype=np.float32)
    keras_probs = batched_probabilities(load_keras_model(folder / "model.keras"), batch, [])
    lite_probs = batched_probabilities(LiteModel(folder / "model.tflite"), batch, [])
    assert np.allclose(keras_probs, lite_probs, atol=1e-5)


def test_check_catches_a_damaged_serving_file(settings, tmp_path):
    from inference.checks import model_check

    folder = build_tiny_model_version(tmp_path, version="flip")
    settings.FRACTURE_MODELS_DIR, settings.FRACTURE_MODEL = tmp_path, "flip"
    assert model_check() == []
    data = bytearray((folder / "model.tflite").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "model.tflite").write_bytes(bytes(data))
    [warning] = model_check()
    assert warning.id == "training.W003" and "SHA-256 differs" in warning.msg


@pytest.mark.django_db
def test_register_models_records_every_version_once(settings, tmp_path):
    from django.core.management import call_command

    from inference.models import ModelVersion

    build_tiny_model_version(tmp_path, version="v-old")
    build_tiny_model_version(tmp_path, version="v-new")
    (tmp_path / "not-a-version").mkdir()
    settings.FRACTURE_MODELS_DIR, settings.FRACTURE_MODEL = tmp_path, ""
    call_command("register_models")
    call_command("register_models")
    assert sorted(ModelVersion.objects.values_list("version", flat=True)) == ["v-new", "v-old"]
    assert [v.version for v in ModelVersion.objects.all() if v.is_active] == ["v-new"]


def test_a_card_calibration_is_applied_to_served_probabilities(models, tiny_root):
    import numpy as np

    from training.calibration import apply
    from training.testing import synthetic_images

    x, _ = synthetic_images(8, 32)
    raw = get_predictor("b-new").probabilities(x)
    folder = tiny_root[0] / "b-new"
    original = (folder / "card.json").read_text()
    card = json.loads(original)
    try:
        card["calibration"] = {"method": "platt", "a": 0.5, "b": -1.0}
        (folder / "card.json").write_text(json.dumps(card))
        clear_cache()
        served = get_predictor("b-new").probabilities(x)
        np.testing.assert_allclose(served, apply(raw, 0.5, -1.0), rtol=1e-6)
        assert not np.allclose(served, raw)
        card["calibration"] = {"method": "platt", "a": "steep"}
        (folder / "card.json").write_text(json.dumps(card))
        clear_cache()
        with pytest.raises(ModelUnavailable, match="unusable calibration"):
            get_predictor("b-new")
    finally:
        (folder / "card.json").write_text(original)
        clear_cache()
