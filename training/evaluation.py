"""The evaluation service behind ``manage.py evaluate``: a stored version scored on one split."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from inference.imaging import VIEWS
from training.cache import ImageCache
from training.dataset import counts_table, load_split
from training.metrics import evaluate_predictions
from training.trainer import Log


def evaluate_version(
    *, data: Path, split: str = "test", version: str | None = None, out_dir: Path | None = None,
    cache_dir: Path | None = None, log: Log = print, transform: str = "none",
) -> dict:  # fmt: skip
    """Metrics and plots of a model version on ``data/split``, with the thresholds in its card.

    ``transform`` ("none" or a key of ``imaging.VIEWS``) scores every image mirrored or turned
    instead: a model whose scores move a lot under it is reading the frame, not the bone.
    """
    if transform != "none" and transform not in VIEWS:
        raise ValueError(f"unknown transform {transform!r}; choose from none, {', '.join(VIEWS)}")
    from inference.predictor import get_predictor
    from training.dataset import as_float
    from training.plots import confusion_plot, roc_plot

    predictor = get_predictor(version)
    cache = ImageCache(cache_dir)
    d = load_split(Path(data), split, predictor.spec, cache, progress=log)
    log(counts_table({split: d}))
    # The cached arrays equal to_model_input's output, so this scores exactly what serving sees.
    x = as_float(d.x)
    p = predictor.probabilities(x if transform == "none" else np.ascontiguousarray(VIEWS[transform](x)))
    metrics = evaluate_predictions(d.y, p, d.groups, d.rotated, predictor.card["thresholds"])
    result = {
        "version": predictor.version,
        "split": split,
        "transform": transform,
        "data": str(data),
        "evaluated_at": datetime.now(UTC).isoformat(),
        "metrics": metrics,
        "predictions": [
            {"path": f.rel, "label": f.label, "group": f.group, "probability": float(pi)}
            for f, pi in zip(d.files, p, strict=True)
        ],
    }
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        roc_plot({split: (d.y, p, metrics["auroc"])}, out_dir / "roc_curve.png")
        confusion_plot(metrics["per_image"]["at_threshold"], out_dir / "confusion_matrix.png", title=split)
        (out_dir / "metrics.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result
