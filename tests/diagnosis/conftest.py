"""Fixtures for the diagnosis tests: images, a fake broker, a tiny real model."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import image_bytes

REPO_ROOT = Path(__file__).resolve().parents[2]
DATASET = (REPO_ROOT / ".." / "shared" / "datasets" / "bone-fracture").resolve()


@pytest.fixture(autouse=True)
def sent_tasks(request, monkeypatch) -> list[int]:
    """Prediction ids handed to the broker. Only the real-path tests talk to Redis."""
    sent: list[int] = []
    if "worker_process" in request.fixturenames:
        return sent
    from diagnosis.tasks import predict

    monkeypatch.setattr(predict, "delay", sent.append)
    return sent


@pytest.fixture
def png_upload() -> SimpleUploadedFile:
    return SimpleUploadedFile("left wrist.png", image_bytes("PNG"), content_type="image/png")


@pytest.fixture
def jpeg_upload() -> SimpleUploadedFile:
    return SimpleUploadedFile("wrist.jpg", image_bytes("JPEG"), content_type="image/jpeg")


@pytest.fixture
def truncated_jpeg() -> bytes:
    """A real radiograph from the shared dataset whose JPEG data is cut short.

    The dataset README places it under ``train/``; the copy at hand has it under ``test/``.
    """
    found = sorted(DATASET.glob("*/not fractured/IMG0004149.jpg"))
    if not found:
        pytest.skip(f"dataset image IMG0004149.jpg not found under {DATASET}")
    return found[0].read_bytes()


@pytest.fixture(scope="session")
def tiny_model_root(tmp_path_factory) -> Path:
    """A real Keras model version built once per session (a few seconds on a CPU)."""
    from training.testing import build_tiny_model_version

    root = tmp_path_factory.mktemp("models")
    build_tiny_model_version(root, version="tiny-test")
    return root


@pytest.fixture
def tiny_model(settings, tiny_model_root) -> str:
    """Serve the tiny model: settings point at it and the per-process cache is emptied."""
    from training.inference import clear_cache

    settings.FRACTURE_MODELS_DIR = tiny_model_root
    settings.FRACTURE_MODEL = "tiny-test"
    clear_cache()
    yield "tiny-test"
    clear_cache()


@pytest.fixture
def no_model(settings, tmp_path) -> None:
    """An empty models folder: loading a model must fail with ModelUnavailable."""
    from training.inference import clear_cache

    settings.FRACTURE_MODELS_DIR = tmp_path / "no-models"
    settings.FRACTURE_MODELS_DIR.mkdir()
    settings.FRACTURE_MODEL = ""
    clear_cache()
    yield
    clear_cache()
