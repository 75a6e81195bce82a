"""Fixtures for the diagnosis tests: uploads and real dataset images."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import image_bytes

REPO_ROOT = Path(__file__).resolve().parents[2]
DATASET = (REPO_ROOT / ".." / "shared" / "datasets" / "bone-fracture").resolve()


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
