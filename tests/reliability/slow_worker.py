"""Celery app for tests only (``celery -A tests.reliability.slow_worker``): each model run first
sleeps ``FRACTURE_TEST_PREDICT_DELAY_S`` seconds, so a test can kill the worker mid-run.

It lives under tests/ and patches the predictor in this process only: no setting or code path
of the production app can slow a prediction down.
"""

from __future__ import annotations

import os
import time

from PIL import Image

from fracture_site.celery import app
from inference import predictor as inference

_DELAY_S = float(os.environ["FRACTURE_TEST_PREDICT_DELAY_S"])
_predict_images = inference.Predictor.predict_images


def _slow_predict_images(self: inference.Predictor, images: list[Image.Image]) -> list[inference.PredictionResult]:
    time.sleep(_DELAY_S)
    return _predict_images(self, images)


inference.Predictor.predict_images = _slow_predict_images

__all__ = ["app"]
