"""Clinician-confirmed images (``manage.py export_dataset --reviewed-only``) added to training only.

``retrain --extra DIR`` reads an export: ``DIR/{fractured,not fractured}/`` and ``DIR/manifest.csv``
with the label, where it came from (``label_source``) and the version of the AI prediction the
read was recorded against (``model_version``). Only rows labelled by a clinician's read are taken:
an export that holds AI-labelled rows, or labels other than fractured / not fractured, is refused
as a whole, so an AI opinion can never come back as a training label. The images join the
training split (for cross-validation: every fold's training part) and never validation, test or
a held-out fold; an image that duplicates one of val, test or train (exact bytes or perceptual
hash) is refused before anything is fitted.
"""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from training.cache import ImageCache
from training.dataset import ImageFile, SplitData, data_fingerprint, decode_files
from training.leakage import NEAR_BITS, duplicate_pairs

MANIFEST = "manifest.csv"
REQUIRED_COLUMNS = ("file", "label", "label_source", "model_version")
CLINICIAN = "clinician"  # ``label_source`` of a row labelled by a clinician's read
FOLDERS = {"fractured": "fractured", "not_fractured": "not fractured"}
LABELS = {"fractured": 1, "not_fractured": 0}
SOURCE = "clinician reads"
SHOWN = 5  # file names quoted in an error


class ExtraDataError(ValueError):
    """The extra images cannot be used for training; nothing was fitted."""


@dataclass
class ExtraData:
    root: Path
    split: SplitData
    source_versions: dict[str, str]  # sha256 -> version of the prediction the read was recorded against

    def facts(self) -> dict:
        """The card's ``data.extra`` block."""
        files = self.split.files
        labels = Counter("fractured" if f.label else "not_fractured" for f in files)
        versions = Counter(self.source_versions[f.sha256] or "unknown" for f in files)
        return {
            "count": len(files),
            "by_label": {"fractured": labels["fractured"], "not_fractured": labels["not_fractured"]},
            "by_source_version": dict(sorted(versions.items())),
            "source": SOURCE,
            "root": str(self.root),
            "fingerprint": data_fingerprint({"extra": self.split}),
            "skipped": [f"{rel}: {why}" for rel, why in self.split.skipped],
            "used_for": "training only (every cross-validation fold's training part); never validation or test",
            "duplicates_checked_against": ["val", "test", "train"],
        }


def _named(rows: list[str]) -> str:
    shown = ", ".join(rows[:SHOWN])
    return shown + (f" and {len(rows) - SHOWN} more" if len(rows) > SHOWN else "")


def _manifest_rows(root: Path) -> list[dict[str, str]]:
    if not root.is_dir():
        raise ExtraDataError(f"--extra {root} is not a folder")
    path = root / MANIFEST
    if not path.is_file():
        raise ExtraDataError(
            f"--extra {root} has no {MANIFEST}: pass a folder written by export_dataset --reviewed-only"
        )
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ExtraDataError(
                f"{path} lacks the column(s) {', '.join(missing)}: the label's source and the model version of "
                "the prediction must be recorded (export again with export_dataset --reviewed-only)"
            )
        return list(reader)


def list_extra(root: Path) -> tuple[list[ImageFile], dict[str, str]]:
    """The export's files with their labels, checked against the manifest (no decoding)."""
    root = Path(root)
    rows = _manifest_rows(root)
    not_read = [r["file"] for r in rows if r["label_source"] != CLINICIAN]
    if not_read:
        raise ExtraDataError(
            f"--extra takes images labelled by a clinician's read only; {len(not_read)} row(s) of {root / MANIFEST} "
            f"are labelled otherwise (e.g. by the AI): {_named(not_read)}. Export with --reviewed-only"
        )
    unusable = [f"{r['file']} ({r['label'] or 'no label'})" for r in rows if r["label"] not in LABELS]
    if unusable:
        raise ExtraDataError(f"only fractured / not_fractured reads can train; refused: {_named(unusable)}")
    misplaced = [r["file"] for r in rows if not r["file"].startswith(FOLDERS[r["label"]] + "/")]
    if misplaced:
        raise ExtraDataError(f"files outside their label's folder in {root / MANIFEST}: {_named(misplaced)}")
    absent = [r["file"] for r in rows if not (root / r["file"]).is_file()]
    if absent:
        raise ExtraDataError(f"files named in {root / MANIFEST} are missing: {_named(absent)}")
    listed = {r["file"] for r in rows}
    unlisted = sorted(
        p.relative_to(root).as_posix()
        for folder in FOLDERS.values()
        if (root / folder).is_dir()
        for p in (root / folder).iterdir()
        if p.is_file() and not p.name.startswith(".") and p.relative_to(root).as_posix() not in listed
    )
    if unlisted:
        raise ExtraDataError(f"files without a manifest row (no recorded read) in {root}: {_named(unlisted)}")

    files, versions = [], {}
    for r in rows:
        path = root / r["file"]
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        files.append(ImageFile(path, r["file"], "extra", LABELS[r["label"]], sha, sha[:12], False))
        versions[sha] = r["model_version"]
    return files, versions


def load_extra(
    root: Path, spec: dict, cache: ImageCache, *, progress: Callable[[str], None] | None = None
) -> ExtraData:
    files, versions = list_extra(root)
    if not files:
        raise ExtraDataError(f"--extra {root} holds no images")
    return ExtraData(Path(root), decode_files("extra", files, spec, cache, progress=progress), versions)


def refuse_duplicates(extra: ExtraData, data: dict[str, SplitData], cache: ImageCache) -> None:
    """Raise ExtraDataError naming every extra image that duplicates one of val, test or train.

    Val and test first (a copy there would inflate the scores), then train: a copy of a training
    image would sit in another cross-validation fold than its twin, and score itself.
    """
    files = extra.split.files
    phashes = cache.phashes(files + [f for name in ("val", "test", "train") for f in data[name].files])
    found = []
    for name in ("val", "test", "train"):
        exact, near = duplicate_pairs(files, data[name].files, phashes)
        found += [f"{a.rel} = {b.rel} (same bytes)" for a, b in exact]
        found += [f"{a.rel} ~ {b.rel} ({bits} of 64 bits)" for a, b, bits in near]
    if found:
        raise ExtraDataError(
            f"{len(found)} extra image(s) duplicate images of the dataset (exact SHA-256, or perceptual hash within "
            f"{NEAR_BITS} bits under rotation/flip): {_named(found)}. Remove them from --extra"
        )
