"""Model folder missing or corrupt: ``manage.py check`` says so without importing TensorFlow, and
a real worker ends each prediction ``failed`` with a readable reason and keeps consuming tasks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from diagnosis.models import Prediction
from inference.checks import model_check
from tests.factories import CaseFactory
from tests.reliability.helpers import api_upload, prediction_status, wait_for

ROOT = Path(__file__).resolve().parents[2]
GARBAGE = b"this is not a keras archive \x00\xff" * 64


def _version(tiny_model_root: Path, root: Path, *, model_bytes: bytes | None = None) -> Path:
    """A copy of the tiny model version under ``root/v1``, its model file optionally replaced."""
    folder = shutil.copytree(tiny_model_root / "tiny-test", root / "v1")
    if model_bytes is not None:
        for name in ("model.keras", "model.tflite"):  # the archive and the served file alike
            (folder / name).write_bytes(model_bytes)
    return folder


def _check_ids(settings, root: Path, version: str = "") -> list[str]:
    settings.FRACTURE_MODELS_DIR, settings.FRACTURE_MODEL = root, version
    return [message.id for message in model_check()]


def test_check_accepts_a_sound_model(settings, tiny_model_root):
    assert _check_ids(settings, tiny_model_root, "tiny-test") == []


def test_check_reports_a_missing_model_folder(settings, tmp_path, no_database):
    assert _check_ids(settings, tmp_path / "nowhere") == ["training.W001"]
    (tmp_path / "empty").mkdir()
    assert _check_ids(settings, tmp_path / "empty") == ["training.W001"]
    assert _check_ids(settings, tmp_path / "empty", "v9") == ["training.W001"]


def test_check_reports_a_missing_or_corrupt_card(settings, tmp_path, tiny_model_root):
    folder = _version(tiny_model_root, tmp_path)
    (folder / "card.json").write_text("{not json")
    assert _check_ids(settings, tmp_path, "v1") == ["training.W001"]
    (folder / "card.json").write_text('{"input": {}, "thresholds": {}}')
    assert _check_ids(settings, tmp_path, "v1") == ["training.W002"]
    (folder / "card.json").unlink()
    assert _check_ids(settings, tmp_path, "v1") == ["training.W001"]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "flipped", "missing"])
def test_check_reports_a_corrupt_model_file(settings, tmp_path, tiny_model_root, damage):
    folder = _version(tiny_model_root, tmp_path)
    model = folder / "model.keras"
    sound = model.read_bytes()
    if damage == "garbage":
        model.write_bytes(GARBAGE)
    elif damage == "truncated":
        model.write_bytes(sound[: len(sound) // 2])
    elif damage == "flipped":  # one byte inside the weights: only the checksum can tell
        middle = sound.index(b"model.weights.h5") + 200
        model.write_bytes(sound[:middle] + bytes([sound[middle] ^ 0xFF]) + sound[middle + 1 :])
    else:
        model.unlink()
    assert _check_ids(settings, tmp_path, "v1") == ["training.W003"]


@pytest.mark.slow
def test_manage_py_check_reports_it_without_importing_tensorflow(tmp_path, tiny_model_root):
    _version(tiny_model_root, tmp_path, model_bytes=GARBAGE)
    script = (
        "import sys, django; django.setup(); from django.core.management import call_command; "
        "call_command('check'); print('tensorflow loaded:', 'tensorflow' in sys.modules or 'keras' in sys.modules)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "fracture_site.settings.local"}
    env.update(FRACTURE_MODELS_DIR=str(tmp_path), FRACTURE_MODEL="v1", FRACTURE_DATA_DIR=str(tmp_path / "data"))
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    output = result.stderr + result.stdout
    # Workers load the serving file only, so its damage is what the check names first.
    assert "training.W003" in output and "model.tflite is not a LiteRT model file" in output
    assert "tensorflow loaded: False" in result.stdout


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_fails_predictions_readably_and_keeps_consuming(
    start_worker, api_client, clinician_client, team, tmp_path, tiny_model_root
):
    models = tmp_path / "models"
    models.mkdir()
    worker = start_worker(env={"FRACTURE_MODELS_DIR": str(models), "FRACTURE_MODEL": "v1"})
    case = CaseFactory(team=team)

    def outcome(name: str) -> Prediction:
        prediction_id = api_upload(api_client, case, name=name)["prediction"]["id"]
        wait_for(lambda: prediction_status(prediction_id) not in ("queued", "running"), timeout=90,
                 what=f"{name} to finish", log=worker.output)  # fmt: skip
        return Prediction.objects.get(pk=prediction_id)

    missing = outcome("missing.png")
    assert missing.status == "failed" and missing.label is None
    assert missing.error.startswith("The AI model is unavailable: model version 'v1' not found")

    _version(tiny_model_root, models, model_bytes=GARBAGE)
    corrupt = outcome("corrupt.png")
    assert corrupt.status == "failed" and corrupt.probability is None
    assert corrupt.error.startswith("The AI model is unavailable: model file ") and "cannot be loaded" in corrupt.error
    assert "Traceback" not in corrupt.error

    # The site stays up and shows the reason; the same worker process picks up a repaired model.
    assert clinician_client.get(f"/cases/{case.pk}/").status_code == 200
    body = api_client.get(f"/api/v1/predictions/{corrupt.pk}/").json()
    assert (body["status"], body["error"]) == ("failed", corrupt.error)
    for name in ("model.keras", "model.tflite"):
        shutil.copyfile(tiny_model_root / "tiny-test" / name, models / "v1" / name)
    repaired = outcome("repaired.png")
    assert repaired.status == "succeeded" and repaired.model_version == "tiny-test", repaired.error
    assert worker.alive()
