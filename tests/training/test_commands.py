"""retrain, evaluate and classify end to end on the synthetic dataset."""

from __future__ import annotations

import json
import shutil
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image

from inference.cards import read_card, validate_card
from inference.imaging import open_image, to_model_input
from inference.models import ModelVersion
from inference.predictor import get_predictor
from inference.registry import new_version_name, staged_version_folder
from training.cache import ImageCache
from training.dataset import as_float, load_split

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.mark.fits_model
@pytest.mark.django_db
def test_retrain_writes_a_loadable_version_and_registers_it(tiny_dataset, tmp_path, settings):
    settings.FRACTURE_MODELS_DIR = tmp_path / "models"
    settings.FRACTURE_CACHE_DIR = tmp_path / "cache"
    out = StringIO()
    args = ["--data", str(tiny_dataset), "--epochs", "1", "--image-size", "32", "--batch-size", "16"]
    call_command("retrain", *args, stdout=out, stderr=StringIO())

    (folder,) = [p for p in settings.FRACTURE_MODELS_DIR.iterdir() if p.is_dir()]
    card = read_card(folder)
    assert validate_card(card) == []
    assert card["input"] == {"size": 32, "color": "grey", "resize": "letterbox"}
    assert 0 <= card["thresholds"]["high_sensitivity"] <= card["thresholds"]["balanced"] <= 1
    assert card["data"]["counts"]["train"] == {"fractured": 16, "not_fractured": 16, "groups": 32, "skipped": 0}
    assert card["leakage"]["leakage_found"] is False
    assert {"val", "test"} <= set(card["metrics"])
    assert card["training"]["cpu"]["model"]  # weights are reproducible per CPU, so the card names it
    for name in ("model.keras", "training_curves.png", "roc_curve.png", "confusion_matrix.png"):
        assert (folder / name).is_file()
    assert get_predictor(folder.name).version == folder.name
    assert ModelVersion.objects.get(version=folder.name).architecture == "default"


def test_version_names_never_reuse_a_folder(tmp_path):
    first = new_version_name(tmp_path, "default")
    (tmp_path / first).mkdir()
    second = new_version_name(tmp_path, "default")
    assert second != first and not (tmp_path / second).exists()


def test_a_version_folder_appears_only_when_complete(tmp_path):
    root = tmp_path / "models"
    with staged_version_folder(root, "default") as (tmp, name):
        tmp.mkdir()
        (tmp / "card.json").write_text("{}")
        assert not (root / name).exists()  # nothing to serve while it is being written
    assert (root / name / "card.json").is_file() and not tmp.exists()

    with pytest.raises(RuntimeError), staged_version_folder(root, "default") as (tmp, _name):
        tmp.mkdir()
        raise RuntimeError("export failed")
    assert sorted(p.name for p in root.iterdir()) == [name]  # no partial folder, no temporary left


def test_retrain_refuses_leaky_splits_unless_allowed(tiny_dataset, tmp_path, settings):
    settings.FRACTURE_MODELS_DIR = tmp_path / "models"
    settings.FRACTURE_CACHE_DIR = tmp_path / "cache"
    source = tiny_dataset / "train" / "fractured" / "img1.png"
    shutil.copy(source, tiny_dataset / "test" / "fractured" / "dup.png")
    Image.open(source).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(tiny_dataset / "val" / "fractured" / "flip.png")
    with pytest.raises(CommandError, match="allow-leakage"):
        call_command("retrain", "--data", str(tiny_dataset), "--image-size", "32", stdout=StringIO(), stderr=StringIO())
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


def _classify(*args) -> list[dict]:
    out = StringIO()
    call_command("classify", *args, "--json", stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_classify_matches_evaluate_on_the_same_files(serve_models, tmp_path):
    data = serve_models["data"]
    out = StringIO()
    call_command("evaluate", "--data", str(data), "--split", "test", "--out", str(tmp_path / "ev"), stdout=out)
    evaluated = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert (tmp_path / "ev" / "roc_curve.png").is_file()
    assert "AUROC image" in out.getvalue()

    paths = [str(data / row["path"]) for row in evaluated["predictions"]]
    rows = _classify(*paths)
    version = serve_models["result"].card["version"]
    for row, ev in zip(rows, evaluated["predictions"], strict=True):
        assert row["model_version"] == version
        assert row["probability"] == pytest.approx(ev["probability"], abs=1e-5)
        assert row["label"] in ("fractured", "not_fractured")


def test_evaluate_scores_mirrored_images_on_request(serve_models, tmp_path):
    """--transform hflip scores each image as classify scores its mirror image."""
    data = serve_models["data"]
    out = StringIO()
    args = ["--data", str(data), "--split", "test", "--transform", "hflip", "--out", str(tmp_path / "ev")]
    call_command("evaluate", *args, stdout=out)
    evaluated = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert evaluated["transform"] == "hflip"
    assert "on test (hflip):" in out.getvalue()

    mirrored = tmp_path / "mirrored"
    mirrored.mkdir()
    paths = []
    for n, row in enumerate(evaluated["predictions"]):
        path = mirrored / f"{n}.png"
        Image.open(data / row["path"]).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(path)
        paths.append(str(path))
    for row, ev in zip(_classify(*paths), evaluated["predictions"], strict=True):
        assert row["probability"] == pytest.approx(ev["probability"], abs=1e-5)
    call_command("evaluate", "--data", str(data), "--out", str(tmp_path / "plain"), stdout=StringIO())
    plain = json.loads((tmp_path / "plain" / "metrics.json").read_text())["predictions"]
    pairs = list(zip(plain, evaluated["predictions"], strict=True))
    assert all(a["path"] == b["path"] for a, b in pairs)
    assert any(abs(a["probability"] - b["probability"]) > 1e-4 for a, b in pairs)  # the mirror was scored

    with pytest.raises(CommandError):
        call_command("evaluate", "--data", str(data), "--transform", "shear", stdout=StringIO())


def test_classify_reports_bad_files_and_fails_only_if_none_read(serve_models, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    good = next((serve_models["data"] / "val" / "fractured").iterdir())
    rows = _classify(str(bad), str(good), str(tmp_path / "missing.png"))
    assert "error" in rows[0] and "error" in rows[2]
    assert rows[1]["label"] in ("fractured", "not_fractured")
    with pytest.raises(CommandError, match="no file could be read"):
        _classify(str(bad))


def test_training_and_serving_preprocess_identically(serve_models):
    """The cached training arrays, to_model_input and the predictor agree on the same files."""
    predictor = get_predictor()
    split = load_split(serve_models["data"], "val", predictor.spec, ImageCache(serve_models["cache"], workers=1))
    files = [f.path for f in split.files]
    served = np.stack([to_model_input(open_image(p), predictor.spec) for p in files])
    np.testing.assert_array_equal(as_float(split.x), served)
    from_paths = [r.probability for r in predictor.predict_paths(files)]
    np.testing.assert_allclose(from_paths, predictor.probabilities(as_float(split.x)), atol=1e-6)


@pytest.mark.fits_model
@pytest.mark.django_db
def test_retrain_members_are_averaged_into_one_served_model(tiny_dataset, tmp_path, settings):
    """An ensemble is one Keras graph and one LiteRT file whose output is the mean of its members;
    member i of --seed S is the network a single run with --seed S+i trains."""
    import keras

    from training.forward import batched_probabilities, load_keras_model
    from training.trainer import TrainConfig, train_version

    common = {"data": tiny_dataset, "epochs": 1, "image_size": 32, "batch_size": 16, "cache_dir": tmp_path / "cache"}
    settings.FRACTURE_MODELS_DIR = tmp_path / "models"
    out = StringIO()
    call_command(
        "retrain", "--data", str(tiny_dataset), "--epochs", "1", "--image-size", "32", "--batch-size", "16",
        "--members", "2", "--seed", "3", stdout=out, stderr=StringIO(),
    )  # fmt: skip
    (folder,) = [p for p in settings.FRACTURE_MODELS_DIR.iterdir() if p.is_dir()]
    card = read_card(folder)
    assert card["recipe"]["members"] == 2
    assert [m["seed"] for m in card["training"]["members"]] == [3, 4]
    assert "member 2/2, selected epoch 1" in out.getvalue()

    ensemble = load_keras_model(folder / "model.keras")
    first, second = ensemble.get_layer("default_1"), ensemble.get_layer("default_2")
    x = as_float(load_split(tiny_dataset, "test", card["input"], ImageCache(tmp_path / "cache")).x)
    p1, p2 = (batched_probabilities(m, x, []) for m in (first, second))
    assert np.abs(p1 - p2).max() > 1e-4  # two different networks, not one twice
    assert np.allclose(batched_probabilities(ensemble, x, []), (p1 + p2) / 2, atol=1e-5)
    served = get_predictor(folder.name)
    assert served.card["serving_file"] == "model.tflite"
    assert np.allclose(served.probabilities(x), (p1 + p2) / 2, atol=1e-4)

    single = train_version(TrainConfig(**common, seed=4, models_dir=tmp_path / "single"), log=lambda _m: None)
    alone = keras.saving.load_model(single.version_dir / "model.keras", compile=False)
    for a, b in zip(alone.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_retrain_refuses_zero_members(tiny_dataset):
    with pytest.raises(CommandError, match="--members must be at least 1"):
        call_command("retrain", "--data", str(tiny_dataset), "--members", "0", stdout=StringIO(), stderr=StringIO())
