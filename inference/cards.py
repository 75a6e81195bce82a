"""Model cards: one JSON file per version, the contract between training and serving.

Training writes a card (``write_card``); serving reads it (``read_card``) and refuses one it
cannot use. Both check the same rules (``validate_card``).
"""

from __future__ import annotations

import json
from pathlib import Path

from inference.errors import ModelUnavailable

CARD_NAME = "card.json"

REQUIRED_KEYS = ("version", "architecture", "created_at", "input", "thresholds", "default_threshold", "metrics")


def validate_card(card: dict) -> list[str]:
    """Problems with a card, empty when it can be served."""
    problems = [f"missing {key!r}" for key in REQUIRED_KEYS if key not in card]
    thresholds = card.get("thresholds", {})
    for name in ("balanced", "high_sensitivity"):
        if not isinstance(thresholds.get(name), int | float):
            problems.append(f"threshold {name!r} missing or not a number")
    spec = card.get("input", {})
    if not isinstance(spec.get("size"), int) or spec.get("color") not in ("grey", "rgb"):
        problems.append("input spec needs an integer 'size' and 'color' grey|rgb")
    return problems


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


def write_card(folder: Path, card: dict) -> Path:
    problems = validate_card(card)
    if problems:
        raise ValueError("invalid model card: " + "; ".join(problems))
    path = Path(folder) / CARD_NAME
    path.write_text(json.dumps(card, indent=2, sort_keys=False, default=_jsonable) + "\n", encoding="utf-8")
    return path


def _jsonable(value):
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
