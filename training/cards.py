"""The model card a training run writes: one assembly for every trainer.

The card contract (what serving reads, validation, writing) is ``inference.cards``; this module
gathers what a run knows into that shape: data, machine, libraries, metrics and the run's own blocks.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from inference.registry import MODEL_NAME
from training.dataset import SplitData, data_fingerprint

ATTRIBUTION = "Bone Fracture Multi-Region X-ray Data, Madushani Rodrigo (Kaggle), ODC-By 1.0"
LABELS = {"positive": "fractured", "negative": "not_fractured"}
NOTES = "Decision support only, not a diagnosis."


def cpu_description() -> dict:
    """The CPU's model name and its vector extensions (which select oneDNN's kernels)."""
    import platform

    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    return {"model": model, "vector_extensions": sorted(f for f in flags if f.startswith(("avx", "fma", "amx")))}


def library_versions() -> dict[str, str]:
    import platform

    import keras
    import PIL
    import sklearn
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "pillow": PIL.__version__,
        "scikit-learn": sklearn.__version__,
    }


def data_facts(root: Path, data: dict[str, SplitData], extra: dict | None = None) -> dict:
    """The card's record of which data a version was trained and scored on.

    The fingerprint covers the dataset's splits only (``rethreshold`` matches it against the same
    folder); images added from clinicians' reads are described under ``extra``.
    """
    facts = {
        "root": str(root),
        "fingerprint": data_fingerprint(data),
        "counts": {s: d.counts() for s, d in data.items()},
        "skipped": {s: [f"{rel}: {why}" for rel, why in d.skipped] for s, d in data.items()},
        "attribution": ATTRIBUTION,
    }
    if extra is not None:
        facts["extra"] = extra
    return facts


def run_facts(started: float, cpu_started: float, *, decode_seconds: float, fit_seconds: float) -> dict:
    """Timings and the machine, for the card's ``training`` block."""
    return {
        "decode_seconds": round(decode_seconds, 1),
        "fit_seconds": round(fit_seconds, 1),
        "wall_seconds": round(time.monotonic() - started, 1),
        # CPU seconds of all threads: on a machine shared with other jobs, CPU time / cores is
        # what the run would take alone.
        "cpu_seconds": round(time.process_time() - cpu_started, 1),
        "cpu_count": os.cpu_count(),
        # Floating-point results (and so the weights) depend on the kernels the CPU's vector
        # extensions select: --seed reproduces a run bit for bit on the same CPU.
        "cpu": cpu_description(),
    }


def assemble(
    *,
    folder: Path,
    version: str,
    architecture: str,
    serving_entries: dict,
    parameters: int,
    spec: dict,
    preprocessing: str,
    thresholds: dict,
    threshold_rule: str,
    seed: int,
    recipe: dict,
    data: dict,
    leakage: dict,
    metrics: dict,
    training: dict,
    calibration: dict | None = None,
    pretrained: dict | None = None,
) -> dict:
    """The card of a version whose files are already in ``folder``.

    Every version is served on the identity view alone (``tta`` stays in the card: serving reads it).
    """
    card = {
        "version": version,
        "created_at": datetime.now(UTC).isoformat(),
        "architecture": architecture,
        "model_file": MODEL_NAME,
        "model_file_bytes": (Path(folder) / MODEL_NAME).stat().st_size,
        **serving_entries,
        "parameters": int(parameters),
        "input": spec,
        "preprocessing": preprocessing,
        "tta": [],
    }
    if calibration is not None:
        card["calibration"] = calibration
    card.update(
        {
            "thresholds": thresholds,
            "default_threshold": "balanced",
            "threshold_rule": threshold_rule,
            "labels": LABELS,
            "seed": seed,
            "recipe": recipe,
        }
    )
    if pretrained is not None:
        card["pretrained"] = pretrained
    card.update(
        {
            "data": data,
            "leakage": leakage,
            "metrics": metrics,
            "training": training,
            "libraries": library_versions(),
            "notes": NOTES,
        }
    )
    return card
