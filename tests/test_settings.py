"""Settings read the environment strictly: production refuses unsafe or missing configuration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "FRACTURE_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage("check", DJANGO_SETTINGS_MODULE="fracture_site.settings.production",
                     DJANGO_ALLOWED_HOSTS="triage.example.org")  # fmt: skip
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set in production" in result.stderr


def test_production_passes_the_deployment_checklist():
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING",
        DJANGO_SETTINGS_MODULE="fracture_site.settings.production",
        DJANGO_SECRET_KEY="x" * 20 + "a-long-random-production-secret-value-9f3k2",
        DJANGO_ALLOWED_HOSTS="triage.example.org",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("value", ["ture", "maybe", "2"])
def test_a_misspelt_boolean_is_an_error_not_false(value):
    result = _manage("check", DJANGO_SETTINGS_MODULE="fracture_site.settings.local", DJANGO_DEBUG=value)
    assert result.returncode != 0
    assert f"DJANGO_DEBUG='{value}' is not a boolean" in result.stderr


def test_env_helpers_accept_the_usual_spellings(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from fracture_site.settings.envtools import env_bool, env_int

    for raw, expected in [("true", True), ("ON", True), ("0", False), ("no", False)]:
        monkeypatch.setenv("FRACTURE_FLAG", raw)
        assert env_bool("FRACTURE_FLAG", default=not expected) is expected
    monkeypatch.delenv("FRACTURE_FLAG")
    assert env_bool("FRACTURE_FLAG", default=True) is True
    monkeypatch.setenv("FRACTURE_N", "-3")
    with pytest.raises(ImproperlyConfigured, match="must be at least 1"):
        env_int("FRACTURE_N", default=5, minimum=1)


def test_default_sqlite_uses_wal_immediate_transactions_and_a_busy_timeout(tmp_path):
    probe = (
        "from django.db import connection; connection.ensure_connection();"
        "c = connection.cursor(); c.execute('PRAGMA journal_mode'); print(c.fetchone()[0]);"
        "o = connection.settings_dict['OPTIONS']; print(o['transaction_mode'], o['timeout'])"
    )
    result = _manage(
        "shell", "--no-imports", "-c", probe,
        DJANGO_SETTINGS_MODULE="fracture_site.settings.local",
        FRACTURE_DATA_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",  # as when unset, but never the caller's PostgreSQL
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["wal", "IMMEDIATE", "20"]
