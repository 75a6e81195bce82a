"""The one place that runs the served network (worker, ``classify``, ``evaluate``).

Serving goes through LiteRT only: a card without a serving file is refused, so a worker never
falls back to TensorFlow. A worker process loads a version once (after fork) and keeps it in a
per-process cache keyed by folder; which version is served is decided by ``inference.registry``
(the activated version, re-checked cheaply), so an activation loads the new version once.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from inference import calibration
from inference.cards import read_card
from inference.errors import ModelUnavailable
from inference.heatmap import upright
from inference.imaging import VIEWS, open_image, to_model_input, view
from inference.registry import resolve_version_dir, served_version_dir
from inference.runtime import LiteModel

__all__ = ["ModelUnavailable", "PredictionResult", "Predictor", "clear_cache", "get_predictor"]

POSITIVE = "fractured"
NEGATIVE = "not_fractured"
BATCH = 32


@dataclass(frozen=True)
class PredictionResult:
    probability: float
    label: str  # "fractured" or "not_fractured"
    threshold: float
    model_version: str
    inference_ms: float
    threshold_name: str = "balanced"  # which of the card's thresholds ``threshold`` is (operating point)
    # (h, w) class activation map on the network's input square, for versions whose card has ``cam``.
    activation_map: np.ndarray | None = None


class Predictor:
    def __init__(self, version_dir: Path):
        self.version_dir = Path(version_dir)
        self.card: dict = read_card(self.version_dir)
        self.version: str = str(self.card.get("version", self.version_dir.name))
        self.spec: dict = self.card["input"]
        thresholds = self.card["thresholds"]
        name = self.card.get("default_threshold", "balanced")
        self.threshold_name: str = str(name)
        try:
            self.threshold: float = float(thresholds[name])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelUnavailable(f"model card of {self.version} has no usable {name!r} threshold") from exc
        self.tta: list[str] = list(self.card.get("tta", []))
        unknown = [name for name in self.tta if name not in VIEWS]
        if unknown:
            raise ModelUnavailable(f"unknown test-time augmentation {unknown[0]!r} in model card of {self.version}")
        self.calibration: tuple[float, float] | None = _calibration(self.card)
        serving = self.card.get("serving_file")
        if not serving:
            raise ModelUnavailable(
                f"model card of {self.version} names no serving file: export one with `manage.py export_serving`"
            )
        cam = self.card.get("cam")
        self.has_maps: bool = bool(cam)
        self._model = LiteModel(self.version_dir / serving, cam_output=cam["output_name"] if cam else None)

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """Fractured probability per row of an already prepared batch (NHWC float32), calibrated
        when the card carries a calibration (the thresholds are then on the calibrated scale)."""
        p = view_mean_probabilities(self._model, batch, self.tta)
        return p if self.calibration is None else calibration.apply(p, *self.calibration)

    def probabilities_and_maps(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``probabilities`` and each row's class activation map ``(N, h, w)`` (needs ``has_maps``):
        both the mean over the identity view and the test-time views, maps turned back upright."""
        runs = [self._model.with_maps(view(batch, name)) for name in ("identity", *self.tta)]
        p = np.mean([probs for probs, _ in runs], axis=0).astype(np.float64)
        maps = np.mean([upright(m, name) for (_, m), name in zip(runs, ("identity", *self.tta), strict=True)], axis=0)
        return (p if self.calibration is None else calibration.apply(p, *self.calibration)), maps

    def predict_images(self, images: list[Image.Image]) -> list[PredictionResult]:
        if not images:
            return []
        start = time.perf_counter()
        batch = np.stack([to_model_input(img, self.spec) for img in images])
        if self.has_maps:
            probs, maps = self.probabilities_and_maps(batch)
        else:
            probs, maps = self.probabilities(batch), [None] * len(images)
        per_image_ms = (time.perf_counter() - start) * 1000.0 / len(images)
        return [self._result(float(p), per_image_ms, m) for p, m in zip(probs, maps, strict=True)]

    def predict_paths(self, paths: Iterable[str | os.PathLike]) -> list[PredictionResult]:
        return self.predict_images([open_image(p) for p in paths])

    def _result(self, probability: float, ms: float, cam: np.ndarray | None = None) -> PredictionResult:
        label = POSITIVE if probability >= self.threshold else NEGATIVE
        return PredictionResult(probability, label, self.threshold, self.version, ms, self.threshold_name, cam)


def view_mean_probabilities(forward: Callable[[np.ndarray], np.ndarray], batch: np.ndarray, tta: list[str]):
    """Mean probability over the identity view and each test-time view, in batches of BATCH."""
    out = []
    for start in range(0, len(batch), BATCH):
        x = batch[start : start + BATCH]
        views = [view(x, name) for name in ("identity", *tta)]
        probs = [np.asarray(forward(np.ascontiguousarray(v))).reshape(-1) for v in views]
        out.append(np.mean(probs, axis=0))
    return np.concatenate(out).astype(np.float64) if out else np.zeros(0)


def _calibration(card: dict) -> tuple[float, float] | None:
    block = card.get("calibration")
    if block is None:
        return None
    try:
        return float(block["a"]), float(block["b"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelUnavailable(f"model card of {card.get('version')} has an unusable calibration") from exc


_cache: dict[Path, Predictor] = {}
_served: list[Path] = []  # the folder last served with no explicit version
_lock = threading.Lock()


def get_predictor(version: str | None = None) -> Predictor:
    """Load a model version once per process; raise ModelUnavailable with a clear message.

    With no version, the served one (``served_version_dir``: re-checked at an interval, not read
    from disk per prediction). A version no longer served is dropped from the cache.
    """
    folder = (resolve_version_dir(version) if version else served_version_dir()).resolve()
    with _lock:
        if version is None:
            if _served and _served[0] != folder:
                _cache.pop(_served[0], None)
            _served[:] = [folder]
        predictor = _cache.get(folder)
        if predictor is None:
            predictor = Predictor(folder)
            _cache[folder] = predictor
        return predictor


def forget_predictor(version: str | None) -> None:
    """Drop a version loaded by name (a shadow run's candidate) from this process's cache."""
    if not version:
        return
    with _lock:
        for folder in [f for f, p in _cache.items() if p.version == version or f.name == version]:
            del _cache[folder]


def clear_cache() -> None:
    from inference.registry import forget_served_version

    with _lock:
        _cache.clear()
        _served.clear()
    forget_served_version()
