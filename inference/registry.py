"""Where model versions live and which one is served. No TensorFlow: web code imports this.

A version is a folder under ``FRACTURE_MODELS_DIR`` holding ``card.json`` and the files it names.
Folders whose name starts with a dot are staged (being written) and never listed.

The served version (``served_version_dir``) is, in order:

1. ``FRACTURE_MODEL`` when set: an override for one process, resolved once;
2. the version of the newest activation in the database (``inference.services``), read by one
   indexed query at most every ``FRACTURE_ACTIVE_RECHECK_S`` seconds, so workers follow an
   activation within that interval without a restart and never query per task;
3. with no database at all, or one not migrated yet (``classify`` on a bare checkout), the
   newest servable folder. A database that answers but holds no activation serves nothing
   (``NOT_ACTIVATED``): the newest folder may be an unapproved candidate.

Once an activation has been read, a database that stops answering keeps the last one served:
the process never falls back to the newest folder, which may be an unactivated candidate.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, transaction

from inference.cards import read_card
from inference.errors import ModelUnavailable

__all__ = [
    "MODEL_NAME",
    "ModelUnavailable",
    "active_version_name",
    "forget_served_version",
    "list_versions",
    "model_file",
    "models_root",
    "new_version_name",
    "resolve_version_dir",
    "served_version_dir",
    "staged_folder",
    "staged_version_folder",
]

MODEL_NAME = "model.keras"


def models_root() -> Path:
    return Path(settings.FRACTURE_MODELS_DIR)


def model_file(version_dir: Path, card: dict | None = None) -> Path:
    """The Keras file (training and evaluation); serving uses the card's ``serving_file``."""
    name = (card or {}).get("model_file", MODEL_NAME)
    return Path(version_dir) / name


def list_versions(root: Path | None = None) -> list[Path]:
    """Servable version folders, oldest first (by the card's creation time, then name).

    Staged folders (name starting with a dot) and folders kept only for their card (baselines
    without a serving file) are skipped.
    """
    root = root or models_root()
    if not root.is_dir():
        return []
    found = []
    for folder in root.iterdir():
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        try:
            card = read_card(folder)
        except ModelUnavailable:
            continue
        serving = card.get("serving_file")
        if serving and (folder / serving).is_file():
            found.append((card.get("created_at", ""), folder.name, folder))
    return [folder for *_, folder in sorted(found)]


def resolve_version_dir(version: str | None = None) -> Path:
    """Explicit version, else settings.FRACTURE_MODEL, else the newest servable folder.

    Not the activated version: ``served_version_dir`` decides what workers serve.
    """
    root = models_root()
    wanted = version or getattr(settings, "FRACTURE_MODEL", "") or None
    if wanted:
        folder = root / wanted
        if "/" in wanted or "\\" in wanted or wanted.startswith(".") or not folder.is_dir():
            raise ModelUnavailable(f"model version {wanted!r} not found in {root}")
        return folder
    versions = list_versions(root)
    if not versions:
        raise ModelUnavailable(
            f"no model version in {root}: train one with `manage.py retrain --data DIR` or set FRACTURE_MODEL"
        )
    return versions[-1]


logger = logging.getLogger(__name__)
# Monotonic clock of the re-check interval; tests replace it.
clock = time.monotonic
_NOT_READ = object()
NOT_ACTIVATED = (
    "no model version is activated: an administrator activates one in the admin "
    "(a fresh install activates the shipped version with `manage.py register_models`)"
)


def active_version_name() -> str | None:
    """The newest activation's version name, None when nothing was ever activated.

    Raises ``DatabaseError`` when the database is unreachable or not migrated. In a savepoint, so
    a failed lookup inside a caller's transaction leaves that transaction usable.
    """
    from inference.models import ModelActivation

    with transaction.atomic():
        return ModelActivation.objects.order_by("-pk").values_list("version__version", flat=True).first()


class _Served:
    """What this process serves: the folder (or why none), the activation read and when."""

    def __init__(self) -> None:
        self.folder: Path | None = None
        self.error: str = ""
        self.active: object = _NOT_READ  # the activation's version name, or None (none yet)
        self.checked_at = float("-inf")


_served: dict[str, _Served] = {}
_served_lock = threading.Lock()


def served_version_dir() -> Path:
    """The served version's folder (see the module docstring); cheap to call per task."""
    override = getattr(settings, "FRACTURE_MODEL", "") or ""
    with _served_lock:
        state = _served.setdefault(f"{models_root()}|{override}", _Served())
        if override:
            if state.folder is None:
                state.folder = resolve_version_dir(override)
            return state.folder
        now = clock()
        if now - state.checked_at >= settings.FRACTURE_ACTIVE_RECHECK_S:
            state.checked_at = now
            _recheck(state)
        if state.folder is None:
            raise ModelUnavailable(state.error)
        return state.folder


def _recheck(state: _Served) -> None:
    try:
        active = active_version_name()
    except DatabaseError as exc:
        if isinstance(state.active, str) and state.folder is not None:
            logger.warning("active model version not re-read (%s); still serving %s", exc, state.active)
            return
        active, database = None, False  # no database (``classify``) or not migrated yet: the newest folder
    else:
        database = True
    if active == state.active and state.folder is not None:
        return  # unchanged; a version whose folder was missing is looked for again at every re-check
    previous, state.active = state.folder, active
    if active is None and database:
        # A database that answers but holds no activation: nothing was approved, so nothing is served
        # (the newest folder may be an unapproved candidate from `retrain`).
        state.folder, state.error = None, NOT_ACTIVATED
        return
    try:
        state.folder, state.error = resolve_version_dir(active), ""
    except ModelUnavailable as exc:
        # Kept until the next re-check: every task fails with the reason, none serves another version.
        state.folder, state.error = None, str(exc)
        return
    if previous is not None and previous != state.folder:
        logger.info("served model version changes from %s to %s", previous.name, state.folder.name)


def forget_served_version() -> None:
    """Resolve the served version again on next use (after a change of what is served)."""
    with _served_lock:
        _served.clear()


def new_version_name(root: Path, arch: str) -> str:
    base = f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{arch}"
    name, n = base, 1
    while (root / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


@contextmanager
def staged_version_folder(root: Path, arch: str):
    """A new version's name and a temporary path to fill: renamed to the name when the block
    completes, removed if it fails, so no half-written version is ever listed or served."""
    root.mkdir(parents=True, exist_ok=True)
    name = new_version_name(root, arch)
    with staged_folder(root / name) as tmp:
        yield tmp, name


@contextmanager
def staged_folder(target: Path):
    """A temporary (dot) path beside ``target`` to fill, renamed to ``target`` when the block
    completes and removed if it fails. ``target`` must not exist: versions are never overwritten."""
    if target.exists():
        raise FileExistsError(f"{target} exists; versions are never overwritten")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".tmp-{target.name}-{os.getpid()}"
    try:
        yield tmp
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
