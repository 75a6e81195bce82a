"""Two servable versions (copies of the tiny model under other names) and helpers to register them."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest


def copy_version(source: Path, root: Path, name: str, *, created_at: datetime) -> Path:
    """A copy of a version folder under another name (same files, the card renamed)."""
    folder = root / name
    shutil.copytree(source, folder)
    card = json.loads((folder / "card.json").read_text())
    card.update(version=name, created_at=created_at.isoformat())
    (folder / "card.json").write_text(json.dumps(card))
    return folder


@pytest.fixture(scope="session")
def two_versions_root(tiny_model_root, tmp_path_factory) -> Path:
    """``tiny-a`` and the newer ``tiny-b``: the same tiny network, two version names."""
    root = tmp_path_factory.mktemp("two-versions")
    start = datetime(2026, 12, 1, tzinfo=UTC)
    copy_version(tiny_model_root / "tiny-test", root, "tiny-a", created_at=start)
    copy_version(tiny_model_root / "tiny-test", root, "tiny-b", created_at=start + timedelta(days=1))
    return root


@pytest.fixture
def models_root(settings, two_versions_root, tmp_path) -> Path:
    """A private copy of the two versions, served with no ``FRACTURE_MODEL`` override."""
    from inference.predictor import clear_cache

    root = tmp_path / "models"
    shutil.copytree(two_versions_root, root)
    settings.FRACTURE_MODELS_DIR, settings.FRACTURE_MODEL = root, ""
    clear_cache()
    yield root
    clear_cache()


@pytest.fixture
def register(models_root):
    """Register a version folder as ``retrain`` does (a candidate); returns the ModelVersion."""
    from inference.cards import read_card
    from inference.services import model_version_register

    def register(name: str):
        return model_version_register(card=read_card(models_root / name))

    return register


@pytest.fixture
def activator(db):
    """Staff with the activation permission (and view access to versions)."""
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    user = UserFactory(username="ml_admin", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="inference", codename__in=["activate_modelversion", "view_modelversion"]
        )
    )
    return user


@pytest.fixture
def clock(monkeypatch):
    """The registry's re-check clock, moved by hand."""
    from inference import registry

    now = [1000.0]
    monkeypatch.setattr(registry, "clock", lambda: now[0])
    return now
