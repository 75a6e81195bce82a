"""Web processes never import TensorFlow: pages, API, admin and the worker's serving path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys, django
django.setup()
from django.test import Client
from django.urls import get_resolver
import fracture_site.wsgi, diagnosis.views, diagnosis.api.views, diagnosis.admin, diagnosis.tasks
get_resolver().url_patterns  # imports every view module
Client().get("/accounts/login/")
heavy = sorted(name for name in ("tensorflow", "keras") if name in sys.modules)
print("heavy modules:", heavy)
"""


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "fracture_site.settings.test", **env}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_web_stack_imports_no_tensorflow():
    result = _run(PROBE)
    assert result.returncode == 0, result.stderr
    assert "heavy modules: []" in result.stdout


def test_serving_a_prediction_imports_no_tensorflow(tiny_model_root):
    """The worker's path: load the served LiteRT file and predict, with TensorFlow never loaded."""
    probe = """
import sys, django
django.setup()
from PIL import Image
from inference.predictor import get_predictor
result = get_predictor("tiny-test").predict_images([Image.new("L", (64, 64), 100)])[0]
print("label:", result.label, "heavy:", sorted(n for n in ("tensorflow", "keras") if n in sys.modules))
"""
    result = _run(probe, FRACTURE_MODELS_DIR=str(tiny_model_root))
    assert result.returncode == 0, result.stderr
    assert "heavy: []" in result.stdout and "label:" in result.stdout
