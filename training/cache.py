"""On-disk cache of decoded, resized images and perceptual hashes, keyed by file content.

Decoding the large radiographs (up to 4232x5823) dominates a cold run; with the cache a second
run reads small uint8 arrays instead. Keys are the file's SHA-256 plus a digest of the
preprocessing settings and ``PREPROCESS_VERSION``, so a change to either never serves stale data.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from inference.imaging import ImageDecodeError, open_image, to_model_input

if TYPE_CHECKING:
    from training.dataset import ImageFile

# Bump when imaging.py changes how pixels are produced.
PREPROCESS_VERSION = 1


def spec_key(spec: dict) -> str:
    payload = json.dumps({"spec": spec, "v": PREPROCESS_VERSION}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def default_cache_dir() -> Path:
    from django.conf import settings

    configured = getattr(settings, "FRACTURE_CACHE_DIR", None)
    return Path(configured) if configured else Path(settings.DATA_DIR) / "cache" / "training"


def _decode(path: str, specs: list[dict]) -> tuple[list[np.ndarray] | None, np.ndarray | None, str | None]:
    """Worker: one decode serves every requested spec and the perceptual hashes."""
    from training.leakage import dihedral_phashes

    try:
        image = open_image(path)
    except ImageDecodeError as exc:
        return None, None, str(exc)
    arrays = [np.rint(to_model_input(image, s) * 255.0).astype(np.uint8) for s in specs]
    return arrays, dihedral_phashes(image), None


class ImageCache:
    def __init__(self, root: Path | None = None, *, workers: int | None = None):
        self.root = Path(root) if root else default_cache_dir()
        self.workers = workers or min(2, os.cpu_count() or 1)

    def _path(self, kind: str, sha: str) -> Path:
        return self.root / kind / sha[:2] / f"{sha}.npy"

    def _error_path(self, sha: str) -> Path:
        return self.root / "errors" / f"{sha}.txt"

    def _fill(self, files: list[ImageFile], specs: list[dict]) -> None:
        keys = [spec_key(s) for s in specs]
        todo = {}
        for f in files:
            if self._error_path(f.sha256).exists():
                continue
            needed = [k for k in keys if not self._path(k, f.sha256).exists()]
            if needed or not self._path("phash", f.sha256).exists():
                todo[f.sha256] = str(f.path)
        if not todo:
            return
        shas, paths = list(todo), list(todo.values())
        spec_lists = [specs] * len(paths)
        if self.workers > 1 and len(paths) > 8:
            with ProcessPoolExecutor(self.workers) as pool:
                results = list(pool.map(_decode, paths, spec_lists, chunksize=4))
        else:
            results = [_decode(p, s) for p, s in zip(paths, spec_lists, strict=True)]
        for sha, (arrays, hashes, error) in zip(shas, results, strict=True):
            if error is not None:
                self._write_text(self._error_path(sha), error)
                continue
            for key, arr in zip(keys, arrays, strict=True):
                self._write_npy(self._path(key, sha), arr)
            self._write_npy(self._path("phash", sha), hashes)

    def arrays(self, files: list[ImageFile], spec: dict) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        self._fill(files, [spec])
        key = spec_key(spec)
        arrays, errors = {}, {}
        for f in files:
            err = self._error_path(f.sha256)
            if err.exists():
                errors[f.sha256] = err.read_text(encoding="utf-8")
            else:
                arrays[f.sha256] = np.load(self._path(key, f.sha256))
        return arrays, errors

    def phashes(self, files: list[ImageFile]) -> dict[str, np.ndarray]:
        """8 perceptual hashes (uint64, one per rotation/flip) per decodable file."""
        self._fill(files, [])
        out = {}
        for f in files:
            path = self._path("phash", f.sha256)
            if path.exists():
                out[f.sha256] = np.load(path)
        return out

    @staticmethod
    def _write_npy(path: Path, arr: np.ndarray) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            np.save(fh, arr)
        os.replace(tmp, path)  # atomic: a crashed run never leaves half a file

    @staticmethod
    def _write_text(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
