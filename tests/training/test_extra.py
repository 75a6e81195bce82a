"""Learning from reads: ``export_dataset --reviewed-only`` then ``retrain --extra`` adds the
clinician-confirmed images to training only, labelled by the clinician's current read."""

from __future__ import annotations

import csv
import datetime
import io
import shutil
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from PIL import Image

from diagnosis.models import Prediction, Review
from inference.cards import read_card, validate_card
from tests.factories import CaseFactory, PredictionFactory, RadiographFactory
from tests.training.conftest import draw_bone
from training.extra import ExtraDataError, list_extra

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"), pytest.mark.django_db]

ARGS = ("--epochs", "1", "--image-size", "32", "--batch-size", "16")


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _radiograph(team, rng, *, cracked: bool, ai_label: str, version: str):
    content = _png(draw_bone(rng, cracked=cracked))
    radiograph = RadiographFactory(case=CaseFactory(patient__team=team), content=content, width=64, height=64)
    prediction = PredictionFactory(
        radiograph=radiograph, status=Prediction.Status.SUCCEEDED, label=ai_label,
        probability=0.8 if ai_label == "fractured" else 0.2, threshold=0.5, model_version=version,
    )  # fmt: skip
    return radiograph, prediction


def _read(prediction, reader, read: str, *, minutes_ago: int = 0) -> None:
    Review.objects.create(
        prediction=prediction,
        reader=reader,
        read=read,
        created_at=timezone.now() - datetime.timedelta(minutes=minutes_ago),
    )


@pytest.fixture
def reads(team, clinician):
    """Seven radiographs with AI opinions of two versions and clinicians' reads of six of them.

    Exported labels (the current reads): 3 fractured, 2 not fractured, where the AI said 4 and 1;
    one image read "uncertain" last and one unread are not exported.
    """
    rng = np.random.default_rng(7)
    for cracked, ai_label, version in (
        (True, "fractured", "v1"),
        (True, "fractured", "v1"),
        (False, "fractured", "v2"),
    ):
        _, prediction = _radiograph(team, rng, cracked=cracked, ai_label=ai_label, version=version)
        _read(prediction, clinician, "fracture" if cracked else "no_fracture")
    # The AI missed this fracture; the clinician's read labels it.
    _, missed = _radiograph(team, rng, cracked=True, ai_label="not_fractured", version="v2")
    _read(missed, clinician, "fracture")
    # Read "fracture", then re-read "no fracture"; a newer model then ran on the image again.
    radiograph, seen = _radiograph(team, rng, cracked=False, ai_label="fractured", version="v1")
    _read(seen, clinician, "fracture", minutes_ago=10)
    _read(seen, clinician, "no_fracture", minutes_ago=5)
    PredictionFactory(
        radiograph=radiograph, status=Prediction.Status.SUCCEEDED, label="fractured", probability=0.9,
        threshold=0.5, model_version="v3",
    )  # fmt: skip
    # A current read of "uncertain" leaves the image out, whatever was read before.
    _, unsure = _radiograph(team, rng, cracked=True, ai_label="fractured", version="v1")
    _read(unsure, clinician, "fracture", minutes_ago=5)
    _read(unsure, clinician, "uncertain")
    _radiograph(team, rng, cracked=False, ai_label="not_fractured", version="v2")  # never read


def _export(tmp_path: Path, *args: str) -> tuple[Path, list[dict[str, str]], str]:
    out, stdout = tmp_path / "export", StringIO()
    call_command("export_dataset", "--out", str(out), *args, stdout=stdout)
    with (out / "manifest.csv").open() as handle:
        return out, list(csv.DictReader(handle)), stdout.getvalue()


def _retrain(data: Path, extra: Path, *args: str) -> str:
    out = StringIO()
    call_command("retrain", "--data", str(data), "--extra", str(extra), *ARGS, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_the_reviewed_export_labels_by_the_current_read_and_names_the_version_seen(reads, tmp_path):
    _, rows, stdout = _export(tmp_path, "--reviewed-only")
    assert {row["label_source"] for row in rows} == {"clinician"}
    assert [row["label"] for row in rows] == ["fractured", "fractured", "not_fractured", "fractured", "not_fractured"]
    # the re-read image: the later read, and the version of the prediction it was recorded against (not v3)
    assert (rows[-1]["label"], rows[-1]["model_version"]) == ("not_fractured", "v1")
    assert rows[3]["model_version"] == "v2" and rows[3]["ai_probability"] == "0.200000"  # the AI's miss
    assert "1 uncertain read" in stdout and "1 no clinician read" in stdout


def test_retrain_adds_clinician_confirmed_images_to_training_only(reads, tiny_dataset, tmp_path, settings):
    settings.FRACTURE_MODELS_DIR = tmp_path / "models"
    settings.FRACTURE_CACHE_DIR = tmp_path / "cache"
    export, _, _ = _export(tmp_path, "--reviewed-only")
    stdout = _retrain(tiny_dataset, export)

    (folder,) = [p for p in settings.FRACTURE_MODELS_DIR.iterdir() if p.is_dir()]
    card = read_card(folder)
    assert validate_card(card) == []
    extra = card["data"]["extra"]
    assert extra["count"] == 5 and extra["source"] == "clinician reads"
    assert extra["by_label"] == {"fractured": 3, "not_fractured": 2}  # the reads; the AI said 4 and 1
    assert extra["by_source_version"] == {"v1": 3, "v2": 2}
    assert extra["duplicates_checked_against"] == ["val", "test", "train"]
    # validation, test and the dataset's own counts are untouched; training saw 32 + 5 images
    assert card["data"]["counts"]["val"] == {"fractured": 8, "not_fractured": 8, "groups": 16, "skipped": 0}
    assert card["data"]["counts"]["train"]["fractured"] == 16
    assert card["metrics"]["val"]["n_images"] == 16
    assert "extra: 5 clinician-confirmed images for training only" in stdout
    assert "1 epochs of 3 batches" in stdout  # ceil(37 / 16); the dataset alone makes 2


@pytest.mark.slow
def test_pretrained_cross_validation_trains_every_fold_on_the_extras_and_holds_none_out(
    reads, tiny_dataset, tmp_path, settings
):
    settings.FRACTURE_MODELS_DIR = tmp_path / "models"
    settings.FRACTURE_CACHE_DIR = tmp_path / "cache"
    export, _, _ = _export(tmp_path, "--reviewed-only")
    out = StringIO()
    call_command(
        "retrain", "--data", str(tiny_dataset), "--arch", "pretrained", "--extra", str(export), "--epochs", "1",
        "--image-size", "32", stdout=out, stderr=StringIO(),
    )  # fmt: skip
    (folder,) = [p for p in settings.FRACTURE_MODELS_DIR.iterdir() if p.is_dir()]
    card = read_card(folder)
    folds = card["training"]["folds"]
    assert [f["extra_train_images"] for f in folds] == [5] * 5
    assert sum(f["held_out_images"] for f in folds) == 48  # train + val only: no extra image is held out
    assert card["metrics"]["cross_validation"]["n_images"] == 48
    assert card["data"]["extra"]["count"] == 5


def test_an_export_labelled_by_the_ai_is_refused_naming_the_rows(reads, tiny_dataset, tmp_path, settings):
    settings.FRACTURE_MODELS_DIR = tmp_path / "models"
    export, rows, _ = _export(tmp_path)  # without --reviewed-only: the unread image carries the AI's label
    (ai_row,) = [row["file"] for row in rows if row["label_source"] == "model"]
    with pytest.raises(CommandError, match=rf"labelled by a clinician's read only.*{ai_row}.*--reviewed-only"):
        _retrain(tiny_dataset, export)
    assert not settings.FRACTURE_MODELS_DIR.exists()


def _plant(export: Path, source: Path, transform=None) -> None:
    """Add ``source`` (or a transformed copy) to the export as a clinician-read image."""
    if transform is None:
        shutil.copy(source, export / "fractured" / "planted.png")
    else:
        transform(Image.open(source)).save(export / "fractured" / "planted.png")
    with (export / "manifest.csv").open("a", newline="") as handle:
        csv.writer(handle).writerow(
            ["fractured/planted.png", "fractured", "clinician", "0.5", "0.5", "v1", "wrist", "PNG"]
        )


@pytest.mark.parametrize(
    ("split", "transform", "shown"),
    [
        ("val", None, "= val/fractured/img1.png"),
        ("test", lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT), "~ test/fractured/img1.png"),
        ("train", None, "= train/fractured/img1.png"),  # a copy of train would score itself in CV
    ],
)
def test_an_extra_image_that_duplicates_the_dataset_is_refused(
    reads, tiny_dataset, tmp_path, settings, split, transform, shown
):
    settings.FRACTURE_MODELS_DIR = tmp_path / "models"
    export, _, _ = _export(tmp_path, "--reviewed-only")
    _plant(export, tiny_dataset / split / "fractured" / "img1.png", transform)
    with pytest.raises(CommandError, match=rf"duplicate images of the dataset.*fractured/planted\.png {shown}"):
        _retrain(tiny_dataset, export)
    assert not settings.FRACTURE_MODELS_DIR.exists()


def _manifest(root: Path, rows: list[list[str]], columns=("file", "label", "label_source", "model_version")) -> Path:
    for folder in ("fractured", "not fractured"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    with (root / "manifest.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
    return root


def test_an_export_without_label_source_or_version_is_refused(tmp_path):
    root = _manifest(tmp_path / "old", [["fractured/a.png", "fractured"]], columns=("file", "label"))
    with pytest.raises(ExtraDataError, match=r"lacks the column.*label_source, model_version"):
        list_extra(root)
    with pytest.raises(ExtraDataError, match=r"no manifest\.csv"):
        list_extra(tmp_path)


def test_uncertain_misfiled_and_unlisted_images_are_refused(tmp_path):
    png = _png(draw_bone(np.random.default_rng(0), cracked=True))
    root = _manifest(tmp_path / "a", [["fractured/a.png", "uncertain", "clinician", "v1"]])
    (root / "fractured" / "a.png").write_bytes(png)
    with pytest.raises(ExtraDataError, match=r"fractured/a.png \(uncertain\)"):
        list_extra(root)
    root = _manifest(tmp_path / "b", [["not fractured/a.png", "fractured", "clinician", "v1"]])
    (root / "not fractured" / "a.png").write_bytes(png)
    with pytest.raises(ExtraDataError, match="outside their label's folder"):
        list_extra(root)
    root = _manifest(tmp_path / "c", [["fractured/a.png", "fractured", "clinician", "v1"]])
    (root / "fractured" / "a.png").write_bytes(png)
    (root / "fractured" / "b.png").write_bytes(png)
    with pytest.raises(ExtraDataError, match=r"without a manifest row.*fractured/b\.png"):
        list_extra(root)
    (root / "fractured" / "b.png").unlink()
    files, versions = list_extra(root)
    assert [(f.rel, f.label, f.split) for f in files] == [("fractured/a.png", 1, "extra")]
    assert versions == {files[0].sha256: "v1"}
