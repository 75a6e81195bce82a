"""System check for ``manage.py check``: can the served model version be served?

It reads files only (card JSON, the model archive's structure and checksums) and never imports
TensorFlow, because every web process and management command runs the checks. Problems are
warnings, not errors: the site and the worker must still start (errors stop ``runserver`` and
``migrate``) and report each prediction as failed with the same reason; use
``manage.py check --fail-level WARNING`` to make a deployment refuse them.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage
from django.core.checks import Warning as CheckWarning

from inference.cards import read_card, validate_card
from inference.registry import ModelUnavailable, model_file, served_version_dir
from inference.runtime import serving_file_problem

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# A Keras 3 ``.keras`` file is a zip holding these two (plus metadata.json).
KERAS_ARCHIVE_MEMBERS = ("config.json", "model.weights.h5")
HINT = "Set FRACTURE_MODEL/FRACTURE_MODELS_DIR to a valid version, or train one: manage.py retrain --data DIR"


def model_check(app_configs: Iterable[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        folder = served_version_dir()  # FRACTURE_MODEL, else the activated version, else the newest
        card = read_card(folder)
    except ModelUnavailable as exc:
        return [CheckWarning(f"The AI model is unavailable: {exc}", hint=HINT, id="training.W001")]
    problems = validate_card(card)
    if problems:
        message = f"The model card of {folder.name} is invalid: {'; '.join(problems)}"
        return [CheckWarning(message, hint=HINT, id="training.W002")]
    if not card.get("serving_file"):
        problem = "the card names no serving file (workers serve LiteRT files only)"
    else:
        problem = serving_file_problem(folder / card["serving_file"], card.get("serving_file_sha256"))
    if not problem and card.get("model_file"):  # the Keras source of truth, when the version carries one
        problem = model_file_problem(model_file(folder, card))
    if problem:
        return [CheckWarning(f"The model file of {folder.name} is unusable: {problem}", hint=HINT, id="training.W003")]
    return []


def model_file_problem(path: Path) -> str | None:
    """Why the weights file cannot be loaded, judged from its bytes alone; None when it looks sound."""
    if not path.is_file():
        return f"{path} is missing"
    if path.suffix == ".h5":
        with path.open("rb") as handle:
            return None if handle.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE else f"{path} is not an HDF5 file"
    try:
        with zipfile.ZipFile(path) as archive:
            missing = [name for name in KERAS_ARCHIVE_MEMBERS if name not in archive.namelist()]
            if missing:
                return f"{path} is not a Keras archive (no {', '.join(missing)})"
            json.loads(archive.read("config.json"))
            damaged = archive.testzip()  # reads every member and compares its CRC
    except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError) as exc:
        return f"{path} is not a readable Keras archive: {exc}"
    return f"{path} is damaged ({damaged} fails its checksum)" if damaged else None
