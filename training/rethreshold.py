"""A stored version's thresholds re-chosen on validation by the current rule, as a new version.

Versions are never changed in place: predictions record the version and threshold they were
made with. When the threshold rule improves, the weights need no retraining; this writes a new
folder with the same model files (byte for byte), thresholds chosen on the same validation
split by ``metrics.choose_thresholds``, val/test metrics recomputed through the served model, and
``derived_from`` in the card naming the source version and its old thresholds.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from inference.cards import write_card
from inference.registry import models_root, resolve_version_dir, staged_version_folder
from training.cache import ImageCache
from training.dataset import SPLITS, as_float, data_fingerprint, load_splits
from training.metrics import THRESHOLD_RULE, choose_thresholds, evaluate_predictions, summary_line
from training.trainer import Log, TrainResult

# Depend on the thresholds, so they are made anew; every other file is copied unchanged.
REDRAWN = ("card.json", "confusion_matrix.png")


class DataMismatchError(ValueError):
    """The dataset is not the one the version was trained and validated on."""


def rethreshold_version(
    *, data: Path, version: str | None = None, cache_dir: Path | None = None, log: Log = print
) -> TrainResult:
    from inference.predictor import get_predictor
    from training.plots import confusion_plot

    source_dir = resolve_version_dir(version)
    predictor = get_predictor(source_dir.name)
    source = predictor.card
    expected = source.get("data", {}).get("fingerprint")
    if not expected:
        raise DataMismatchError(
            f"the card of {source['version']} records no data fingerprint: its validation split is unknown"
        )
    splits = load_splits(Path(data), SPLITS, predictor.spec, ImageCache(cache_dir), progress=log)
    if expected != data_fingerprint(splits):
        raise DataMismatchError(
            f"{data} is not the dataset {source['version']} was trained on (its fingerprint differs): "
            "thresholds must be chosen on the same validation split"
        )
    val = splits["val"]
    p_val = predictor.probabilities(as_float(val.x))
    thresholds = choose_thresholds(val.y, p_val, val.groups)
    metrics = {"val": evaluate_predictions(val.y, p_val, val.groups, val.rotated, thresholds)}
    test = splits["test"]
    if len(test.x):
        p_test = predictor.probabilities(as_float(test.x))
        metrics["test"] = evaluate_predictions(test.y, p_test, test.groups, test.rotated, thresholds)
    log(
        "thresholds "
        + ", ".join(f"{k} {source['thresholds'][k]:.4f} -> {v:.4f}" for k, v in thresholds.items())
        + f" (from {source['version']})"
    )
    for split, m in metrics.items():
        log(f"{split}: {summary_line(m)}")

    root = models_root()
    with staged_version_folder(root, source["architecture"]) as (tmp, name):
        shutil.copytree(source_dir, tmp, ignore=shutil.ignore_patterns(*REDRAWN))
        shown = "test" if "test" in metrics else "val"
        confusion_plot(metrics[shown]["per_image"]["at_threshold"], tmp / "confusion_matrix.png", title=shown)
        card = {
            **source,
            "version": name,
            "created_at": datetime.now(UTC).isoformat(),
            "thresholds": thresholds,
            "threshold_rule": THRESHOLD_RULE,
            "metrics": metrics,
            "derived_from": {
                "version": source["version"],
                "change": "thresholds re-chosen on validation by the current rule; model files unchanged",
                "thresholds": source["thresholds"],
                "threshold_rule": source.get("threshold_rule"),
            },
        }
        write_card(tmp, card)
    log(f"wrote {root / name}")
    return TrainResult(root / name, card)
