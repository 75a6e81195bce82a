"""Where model versions live and which one is served. No TensorFlow: web code may import this."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings

CARD_NAME = "card.json"
MODEL_NAME = "model.keras"


class ModelUnavailable(RuntimeError):
    """The requested model version is missing, incomplete or corrupt."""


def models_root() -> Path:
    return Path(settings.FRACTURE_MODELS_DIR)


def read_card(version_dir: Path) -> dict:
    path = Path(version_dir) / CARD_NAME
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelUnavailable(f"model card missing: {path}") from exc
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(f"model card unreadable: {path}: {exc}") from exc
    if not isinstance(card, dict) or "input" not in card or "thresholds" not in card:
        raise ModelUnavailable(f"model card incomplete (needs 'input' and 'thresholds'): {path}")
    return card


def model_file(version_dir: Path, card: dict | None = None) -> Path:
    name = (card or {}).get("model_file", MODEL_NAME)
    return Path(version_dir) / name


def is_servable(version_dir: Path) -> bool:
    """A folder with a card and its weights; baseline folders kept only for their card are not."""
    try:
        card = read_card(version_dir)
    except ModelUnavailable:
        return False
    return model_file(version_dir, card).is_file()


def list_versions(root: Path | None = None) -> list[Path]:
    """Servable version folders, oldest first (by the card's creation time, then name)."""
    root = root or models_root()
    if not root.is_dir():
        return []
    found = []
    for folder in root.iterdir():
        if not folder.is_dir():
            continue
        try:
            card = read_card(folder)
        except ModelUnavailable:
            continue
        if model_file(folder, card).is_file():  # baseline folders kept for their card only are not servable
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
