"""Reading ``DIR/{train,val,test}/{fractured,not fractured}/`` into cached arrays.

Every file is identified by the SHA-256 of its bytes; groups come from ``MANIFEST.csv`` when
the folder has one (near-duplicate families), otherwise each distinct file is its own group.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.cache import ImageCache

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
CLASSES = {"fractured": 1, "not fractured": 0}
_ROTATED = re.compile(r"rotated", re.IGNORECASE)


@dataclass(frozen=True)
class ImageFile:
    path: Path
    rel: str
    split: str
    label: int
    sha256: str
    group: str
    rotated: bool


@dataclass
class SplitData:
    """One split, decoded: ``x`` is uint8 NHWC (divide by 255 to get ``to_model_input``'s output)."""

    name: str
    files: list[ImageFile]
    x: np.ndarray
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def y(self) -> np.ndarray:
        return np.array([f.label for f in self.files], dtype=np.int32)

    @property
    def groups(self) -> np.ndarray:
        # A few manifest groups hold both labels; a group is scored once per label.
        return np.array([f"{f.group}:{f.label}" for f in self.files])

    @property
    def rotated(self) -> np.ndarray:
        return np.array([f.rotated for f in self.files], dtype=bool)

    def counts(self) -> dict[str, int]:
        c = Counter(f.label for f in self.files)
        return {"fractured": c[1], "not_fractured": c[0], "groups": len(set(self.groups)), "skipped": len(self.skipped)}


def _manifest(root: Path) -> dict[str, dict]:
    path = root / "MANIFEST.csv"
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as fh:
        return {row["path"]: row for row in csv.DictReader(fh)}


def list_files(root: Path, split: str) -> list[ImageFile]:
    """Every file of a split with its hash, label, group and rotated-family flag (no decoding)."""
    root = Path(root)
    if not (root / split).is_dir():
        raise FileNotFoundError(f"{root / split} does not exist (expected DIR/{{train,val,test}}/<class>/)")
    manifest = _manifest(root)
    found = []
    for cls, label in CLASSES.items():
        folder = root / split / cls
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
            rel = path.relative_to(root).as_posix()
            sha = hashlib.sha256(path.read_bytes()).hexdigest()
            row = manifest.get(rel, {})
            group = row.get("group") or sha[:12]
            rotated = bool(_ROTATED.search(path.name) or _ROTATED.search(row.get("kaggle_paths", "")))
            found.append(ImageFile(path, rel, split, label, sha, group, rotated))
    return found


def load_split(
    root: Path,
    split: str,
    spec: dict,
    cache: ImageCache,
    *,
    progress: Callable[[str], None] | None = None,
) -> SplitData:
    """Decode (or fetch from cache) one split; undecodable files are skipped with a warning naming them."""
    return decode_files(split, list_files(root, split), spec, cache, progress=progress)


def decode_files(
    name: str,
    files: list[ImageFile],
    spec: dict,
    cache: ImageCache,
    *,
    progress: Callable[[str], None] | None = None,
) -> SplitData:
    """``files`` decoded (or fetched from cache) as one split; undecodable ones are skipped with a warning."""
    arrays, errors = cache.arrays(list(files), spec)
    kept, xs, skipped = [], [], []
    for f in files:
        if f.sha256 in errors:
            skipped.append((f.rel, errors[f.sha256]))
            log.warning("skipping unreadable image %s: %s", f.rel, errors[f.sha256])
            if progress:
                progress(f"warning: skipping unreadable image {f.rel}: {errors[f.sha256]}")
            continue
        kept.append(f)
        xs.append(arrays[f.sha256])
    size, channels = int(spec["size"]), 3 if spec.get("color") == "rgb" else 1
    x = np.stack(xs) if xs else np.zeros((0, size, size, channels), dtype=np.uint8)
    return SplitData(name, kept, x, skipped)


def load_splits(root: Path, splits: tuple[str, ...], spec: dict, cache: ImageCache, **kw) -> dict[str, SplitData]:
    return {s: load_split(root, s, spec, cache, **kw) for s in splits}


def counts_table(data: dict[str, SplitData]) -> str:
    lines = [f"{'split':<6} {'fractured':>10} {'not fract.':>10} {'groups':>7} {'skipped':>8}"]
    for name, d in data.items():
        c = d.counts()
        lines.append(f"{name:<6} {c['fractured']:>10} {c['not_fractured']:>10} {c['groups']:>7} {c['skipped']:>8}")
    return "\n".join(lines)


def as_float(x: np.ndarray) -> np.ndarray:
    """Cached uint8 -> exactly what ``imaging.to_model_input`` returns."""
    return x.astype(np.float32) / 255.0


def data_fingerprint(data: dict[str, SplitData]) -> str:
    """Digest of which bytes sit in which split with which label: same data, same fingerprint."""
    rows = sorted(f"{s}|{f.label}|{f.sha256}" for s, d in data.items() for f in d.files)
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()
