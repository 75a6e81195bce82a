"""Model cards: one JSON file per version, the contract between training and serving."""

from __future__ import annotations

import json
from pathlib import Path

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


def write_card(folder: Path, card: dict) -> Path:
    problems = validate_card(card)
    if problems:
        raise ValueError("invalid model card: " + "; ".join(problems))
    path = Path(folder) / "card.json"
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
