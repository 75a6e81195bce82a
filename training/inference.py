"""The one place that loads and runs the network (worker, ``classify``, ``evaluate``).

TensorFlow is imported lazily inside functions, so importing this module costs nothing; a
worker process loads a model once (after fork) and keeps it in a per-process cache. A version
with a ``serving_file`` (LiteRT, see ``training.serving``) is served through it without
TensorFlow; otherwise the Keras file is run through a compiled TensorFlow graph.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from training import calibration
from training.imaging import VIEWS, open_image, to_model_input
from training.registry import ModelUnavailable, model_file, read_card, resolve_version_dir
from training.serving import LiteModel

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


class Predictor:
    def __init__(self, version_dir: Path):
        self.version_dir = Path(version_dir)
        self.card: dict = read_card(self.version_dir)
        self.version: str = str(self.card.get("version", self.version_dir.name))
        self.spec: dict = self.card["input"]
        thresholds = self.card["thresholds"]
        name = self.card.get("default_threshold", "balanced")
        try:
            self.threshold: float = float(thresholds[name])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelUnavailable(f"model card of {self.version} has no usable {name!r} threshold") from exc
        self.tta: list[str] = list(self.card.get("tta", []))
        self.calibration: tuple[float, float] | None = _calibration(self.card)
        serving = self.card.get("serving_file")
        if serving:
            self._model = LiteModel(self.version_dir / serving)
        else:
            self._model = load_keras_model(model_file(self.version_dir, self.card))

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """Fractured probability per row of an already prepared batch (NHWC float32), calibrated
        when the card carries a calibration (the thresholds are then on the calibrated scale)."""
        p = batched_probabilities(self._model, batch, self.tta)
        return p if self.calibration is None else calibration.apply(p, *self.calibration)

    def predict_images(self, images: list[Image.Image]) -> list[PredictionResult]:
        if not images:
            return []
        start = time.perf_counter()
        batch = np.stack([to_model_input(img, self.spec) for img in images])
        probs = self.probabilities(batch)
        per_image_ms = (time.perf_counter() - start) * 1000.0 / len(images)
        return [self._result(float(p), per_image_ms) for p in probs]

    def predict_paths(self, paths: Iterable[str | os.PathLike]) -> list[PredictionResult]:
        return self.predict_images([open_image(p) for p in paths])

    def _result(self, probability: float, ms: float) -> PredictionResult:
        label = POSITIVE if probability >= self.threshold else NEGATIVE
        return PredictionResult(probability, label, self.threshold, self.version, ms)


def _calibration(card: dict) -> tuple[float, float] | None:
    block = card.get("calibration")
    if block is None:
        return None
    try:
        return float(block["a"]), float(block["b"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelUnavailable(f"model card of {card.get('version')} has an unusable calibration") from exc


def batched_probabilities(model, batch: np.ndarray, tta: list[str]) -> np.ndarray:
    """Mean probability over the identity view and each test-time view; used by training too."""
    out = []
    forward = _compiled_forward(model)
    for start in range(0, len(batch), BATCH):
        x = batch[start : start + BATCH]
        views = [x] + [_tta_view(x, name) for name in tta]
        probs = [np.asarray(forward(np.ascontiguousarray(v))).reshape(-1) for v in views]
        out.append(np.mean(probs, axis=0))
    return np.concatenate(out).astype(np.float64) if out else np.zeros(0)


_forwards: dict[int, tuple[object, object]] = {}


def _compiled_forward(model):
    """A graph-compiled forward pass per model, built on first use.

    Eager Keras calls pay Python overhead for every layer (~50 ms per image for the default
    network's 60 layers, more than its arithmetic); a tf.function runs the whole graph at once
    and lets TensorFlow fuse convolution, batch norm and activation. Variables are captured by
    reference, so weights changed during training are used as they are.
    """
    if isinstance(model, LiteModel):
        return model
    entry = _forwards.get(id(model))
    if entry is None or entry[0] is not model:
        import tensorflow as tf

        fn = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
        entry = (model, fn)
        _forwards[id(model)] = entry
    return entry[1]


def _tta_view(x: np.ndarray, name: str) -> np.ndarray:
    try:
        return VIEWS[name](x)
    except KeyError:
        raise ModelUnavailable(f"unknown test-time augmentation {name!r} in model card") from None


def load_keras_model(path: Path):
    if not path.is_file():
        raise ModelUnavailable(f"model file missing: {path}")
    import keras  # lazy: only processes that predict pay for TensorFlow

    import training.layers  # noqa: F401  (registers the custom layers before loading)

    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for a bad file; all mean "unusable".
        raise ModelUnavailable(f"model file {path} cannot be loaded: {exc}") from exc


_cache: dict[Path, Predictor] = {}
_lock = threading.Lock()


def get_predictor(version: str | None = None) -> Predictor:
    """Load a model version once per process; raise ModelUnavailable with a clear message."""
    folder = resolve_version_dir(version).resolve()
    with _lock:
        predictor = _cache.get(folder)
        if predictor is None:
            predictor = Predictor(folder)
            _cache[folder] = predictor
        return predictor


def clear_cache() -> None:
    with _lock:
        _cache.clear()
        _forwards.clear()
