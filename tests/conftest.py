"""Root fixtures: every test gets a private media folder and models folder."""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.fixtures.broker", "tests.fixtures.models", "tests.fixtures.worker"]

# Fixtures that make a test slow or a model fit, so `-m "not slow and not fits_model"` (make
# test-fast) leaves out every test that uses them without each test having to say so.
REAL_PROCESS_FIXTURES = frozenset({"redis_url", "broker_url", "celery_queue", "start_worker", "worker_process"})
BROWSER_FIXTURES = frozenset({"chromium", "new_page", "browser_page"})
MODEL_FITTING_FIXTURES = frozenset({"trained_version", "serve_models"})


def pytest_collection_modifyitems(config, items):
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & (REAL_PROCESS_FIXTURES | BROWSER_FIXTURES):
            item.add_marker(pytest.mark.slow)
        if fixtures & MODEL_FITTING_FIXTURES:
            item.add_marker(pytest.mark.fits_model)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters live in the cache, which outlives a test: every test starts at zero."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()


@pytest.fixture
def team(db):
    from tests.factories import TeamFactory

    return TeamFactory(name="Emergency")


@pytest.fixture
def clinician(team):
    """A clinician in exactly one care team (``team``)."""
    from tests.factories import UserFactory

    return UserFactory(username="dr_ada", teams=[team])


@pytest.fixture
def outsider(db):
    """A clinician of another care team: must see none of ``team``'s records."""
    from tests.factories import TeamFactory, UserFactory

    return UserFactory(username="dr_other", teams=[TeamFactory(name="Orthopaedics")])


@pytest.fixture
def api_client(clinician):
    """An API client authenticated as ``clinician`` with a token."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=clinician).key}")
    return client


@pytest.fixture
def clinician_client(client, clinician):
    """A browser client logged in as ``clinician``."""
    client.force_login(clinician)
    return client


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """On SQLite, keep the test database in a file so a real worker process can share it."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("db") / "test.sqlite3")
