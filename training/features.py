"""Cached outputs of the frozen pretrained trunk, per image and per orientation.

The trunk (EfficientNet-Lite0's stem and first blocks, ImageNet weights, never trained here)
costs four fifths of the network's arithmetic. Its output for each of the eight orientations of
each image is computed once and kept on disk, keyed by the file's SHA-256 and the trunk's
settings; training the head and scoring test-time views then read those instead of running it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from inference.imaging import DIHEDRAL, view
from training.cache import PREPROCESS_VERSION
from training.pretrained import WEIGHTS_SHA256

BATCH = 64


def trunk_key(size: int, split: int) -> str:
    payload = {"size": size, "split": split, "weights": WEIGHTS_SHA256, "views": DIHEDRAL, "v": PREPROCESS_VERSION}
    return "trunk-" + hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def trunk_features(
    shas: list[str],
    x: np.ndarray,
    *,
    size: int,
    split: int,
    cache_root: Path,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """``(N, 8, h, w, c)`` float16 trunk outputs for the uint8 images ``x`` (N x size x size x 1)."""
    folder = Path(cache_root) / trunk_key(size, split)
    paths = [folder / sha[:2] / f"{sha}.npy" for sha in shas]
    missing = [i for i, p in enumerate(paths) if not p.exists()]
    if missing:
        _compute(x, missing, paths, size=size, split=split, progress=progress)
    return np.stack([np.load(p) for p in paths])


def _compute(x, rows, paths, *, size, split, progress) -> None:
    import tensorflow as tf

    from training.efficientnet import build_trunk, load_imagenet_weights
    from training.pretrained import load_efficientnet_lite0

    trunk = build_trunk(size, split, channels=x.shape[-1])
    load_imagenet_weights(trunk, load_efficientnet_lite0())
    forward = tf.function(lambda b: trunk(b, training=False), reduce_retracing=True)
    per_batch = max(1, BATCH // len(DIHEDRAL))
    for start in range(0, len(rows), per_batch):
        chunk = rows[start : start + per_batch]
        images = x[chunk].astype(np.float32) / 255.0
        views = np.concatenate([np.ascontiguousarray(view(images, name)) for name in DIHEDRAL])
        out = np.asarray(forward(views)).astype(np.float16)
        out = out.reshape(len(DIHEDRAL), len(chunk), *out.shape[1:]).swapaxes(0, 1)
        for row, features in zip(chunk, out, strict=True):
            _save(paths[row], features)
        if progress:
            progress(min(start + per_batch, len(rows)), len(rows))


def _save(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with tmp.open("wb") as fh:
        np.save(fh, arr)
    os.replace(tmp, path)
