"""manage.py rethreshold: new thresholds for a stored version, as a new version."""

from __future__ import annotations

import shutil
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from inference.cards import read_card, validate_card, write_card
from inference.errors import ModelUnavailable
from inference.models import ModelVersion
from inference.predictor import clear_cache, get_predictor
from tests.training.conftest import make_dataset
from training.cache import ImageCache
from training.dataset import as_float, load_split
from training.metrics import choose_thresholds

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

OLD = {"balanced": 0.9, "high_sensitivity": 0.8}


@pytest.fixture
def models(trained_version, tmp_path, settings):
    """A private copy of the trained version, its thresholds set as an older rule might have."""
    source = trained_version["result"].version_dir
    root = tmp_path / "models"
    shutil.copytree(source, root / source.name)
    card = read_card(root / source.name)
    write_card(root / source.name, {**card, "thresholds": OLD})
    settings.FRACTURE_MODELS_DIR = root
    settings.FRACTURE_MODEL = ""
    settings.FRACTURE_CACHE_DIR = trained_version["cache"]
    clear_cache()
    yield root / source.name
    clear_cache()


@pytest.mark.django_db
def test_rethreshold_writes_a_new_served_version_with_the_same_files(models, trained_version):
    source_card = (models / "card.json").read_bytes()
    out = StringIO()
    call_command("rethreshold", "--data", str(trained_version["data"]), stdout=out)

    (new,) = [p for p in models.parent.iterdir() if p != models]
    card = read_card(new)
    assert validate_card(card) == []
    assert card["derived_from"]["version"] == models.name
    assert card["derived_from"]["thresholds"] == OLD
    for name in ("model.keras", "model.tflite", "training_curves.png", "roc_curve.png"):
        assert (new / name).read_bytes() == (models / name).read_bytes()
    assert (models / "card.json").read_bytes() == source_card  # the source version is untouched

    # The thresholds are the current rule's on validation, scored by the model as served.
    predictor = get_predictor(new.name)
    val = load_split(trained_version["data"], "val", predictor.spec, ImageCache(trained_version["cache"]))
    assert card["thresholds"] == choose_thresholds(val.y, predictor.probabilities(as_float(val.x)), val.groups)
    assert card["thresholds"] != OLD
    assert {"val", "test"} <= set(card["metrics"])
    # Registered as a candidate: with nothing activated, nothing serves (not even the newest folder).
    assert ModelVersion.objects.filter(version=new.name).exists()
    with pytest.raises(ModelUnavailable, match="no model version is activated"):
        get_predictor()
    assert f"{OLD['balanced']:.4f} -> " in out.getvalue()


def test_rethreshold_refuses_another_dataset_and_writes_nothing(models, tmp_path, settings):
    other = make_dataset(tmp_path / "other", seed=5)
    settings.FRACTURE_CACHE_DIR = tmp_path / "cache"
    with pytest.raises(CommandError, match=r"not the dataset .* was trained on"):
        call_command("rethreshold", "--data", str(other), stdout=StringIO())
    assert list(models.parent.iterdir()) == [models]


def test_rethreshold_names_a_missing_version(models, trained_version):
    with pytest.raises(CommandError, match="'nope' not found"):
        call_command("rethreshold", "--data", str(trained_version["data"]), "--model", "nope", stdout=StringIO())


def test_rethreshold_refuses_a_card_without_data_fingerprint(models, trained_version):
    card = read_card(models)
    write_card(models, {**card, "data": {k: v for k, v in card["data"].items() if k != "fingerprint"}})
    clear_cache()
    with pytest.raises(CommandError, match="records no data fingerprint"):
        call_command("rethreshold", "--data", str(trained_version["data"]), stdout=StringIO())
    assert list(models.parent.iterdir()) == [models]


def test_rethreshold_names_a_missing_split_folder_and_writes_nothing(models, trained_version, tmp_path):
    partial = tmp_path / "partial"
    shutil.copytree(trained_version["data"], partial)
    shutil.rmtree(partial / "test")
    with pytest.raises(CommandError, match="test does not exist"):
        call_command("rethreshold", "--data", str(partial), stdout=StringIO())
    assert list(models.parent.iterdir()) == [models]
