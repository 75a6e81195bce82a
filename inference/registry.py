"""Where model versions live and which one is served. No TensorFlow: web code imports this.

A version is a folder under ``FRACTURE_MODELS_DIR`` holding ``card.json`` and the files it names.
Folders whose name starts with a dot are staged (being written) and never listed. The served
version is ``FRACTURE_MODEL`` when set, else the newest servable folder; it is resolved once per
process (``served_version_dir``) and again only after ``forget_served_version``.
"""

from __future__ import annotations

import os
import shutil
import threading
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings

from inference.cards import read_card
from inference.errors import ModelUnavailable

__all__ = [
    "MODEL_NAME",
    "ModelUnavailable",
    "forget_served_version",
    "list_versions",
    "model_file",
    "models_root",
    "new_version_name",
    "resolve_version_dir",
    "served_version_dir",
    "staged_version_folder",
]

MODEL_NAME = "model.keras"


def models_root() -> Path:
    return Path(settings.FRACTURE_MODELS_DIR)


def model_file(version_dir: Path, card: dict | None = None) -> Path:
    """The Keras file (training and evaluation); serving uses the card's ``serving_file``."""
    name = (card or {}).get("model_file", MODEL_NAME)
    return Path(version_dir) / name


def list_versions(root: Path | None = None) -> list[Path]:
    """Servable version folders, oldest first (by the card's creation time, then name).

    Staged folders (name starting with a dot) and folders kept only for their card (baselines
    without a serving file) are skipped.
    """
    root = root or models_root()
    if not root.is_dir():
        return []
    found = []
    for folder in root.iterdir():
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        try:
            card = read_card(folder)
        except ModelUnavailable:
            continue
        serving = card.get("serving_file")
        if serving and (folder / serving).is_file():
            found.append((card.get("created_at", ""), folder.name, folder))
    return [folder for *_, folder in sorted(found)]


def resolve_version_dir(version: str | None = None) -> Path:
    """Explicit version, else settings.FRACTURE_MODEL, else the newest servable folder."""
    root = models_root()
    wanted = version or getattr(settings, "FRACTURE_MODEL", "") or None
    if wanted:
        folder = root / wanted
        if "/" in wanted or "\\" in wanted or wanted.startswith(".") or not folder.is_dir():
            raise ModelUnavailable(f"model version {wanted!r} not found in {root}")
        return folder
    versions = list_versions(root)
    if not versions:
        raise ModelUnavailable(
            f"no model version in {root}: train one with `manage.py retrain --data DIR` or set FRACTURE_MODEL"
        )
    return versions[-1]


_served: dict[tuple[str, str], Path] = {}
_served_lock = threading.Lock()


def served_version_dir() -> Path:
    """The served version's folder, resolved once per process (per models folder and override)."""
    key = (str(models_root()), getattr(settings, "FRACTURE_MODEL", "") or "")
    with _served_lock:
        folder = _served.get(key)
        if folder is None:
            folder = resolve_version_dir()
            _served[key] = folder
        return folder


def forget_served_version() -> None:
    """Resolve the served version again on next use (after a change of what is served)."""
    with _served_lock:
        _served.clear()


def new_version_name(root: Path, arch: str) -> str:
    base = f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{arch}"
    name, n = base, 1
    while (root / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


@contextmanager
def staged_version_folder(root: Path, arch: str):
    """A new version's name and a temporary path to fill: renamed to the name when the block
    completes, removed if it fails, so no half-written version is ever listed or served."""
    root.mkdir(parents=True, exist_ok=True)
    name = new_version_name(root, arch)
    tmp = root / f".tmp-{name}-{os.getpid()}"
    try:
        yield tmp, name
        tmp.rename(root / name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
