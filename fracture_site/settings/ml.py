"""Model registry settings. Web processes never import TensorFlow; only workers and commands."""

from __future__ import annotations

from pathlib import Path

from fracture_site.settings.envtools import env, env_int

_BASE_DIR = Path(__file__).resolve().parents[2]

# Folder holding one sub-folder per model version (model file + card.json).
FRACTURE_MODELS_DIR = Path(env.str("FRACTURE_MODELS_DIR", default=str(_BASE_DIR / "ml_models"))).resolve()
# Version folder name to serve in this process, overriding the activated version (tests, `classify`).
FRACTURE_MODEL = env.str("FRACTURE_MODEL", default="")
# Seconds between two reads of the activated version in a serving process (one indexed query).
FRACTURE_ACTIVE_RECHECK_S = env_int("FRACTURE_ACTIVE_RECHECK_S", default=30, minimum=1)
