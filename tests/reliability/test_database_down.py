"""Database unavailable: a live gunicorn whose database cannot be reached answers a friendly 503
page, or a JSON 503 under /api/, with Retry-After and no stack trace; pages that need no
database keep working.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fracture_site.localredis import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
LEAKS = (b"Traceback", b"OperationalError", b"psycopg", b"sqlite3", b'File "')


@pytest.fixture(params=["postgresql-port-closed", "sqlite-unreadable"])
def dead_database_server(request, tmp_path) -> Iterator[int]:
    """gunicorn on a free port, its DATABASE_URL pointing at nothing; yields the port."""
    if request.param == "postgresql-port-closed":
        database_url = f"postgres://postgres@127.0.0.1:{free_port()}/fracture"
    else:
        database_url = f"sqlite:///{tmp_path / 'no-such-folder' / 'db.sqlite3'}"
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "fracture_site.settings.test", "DATABASE_URL": database_url}
    env["FRACTURE_DATA_DIR"] = str(tmp_path)
    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "fracture_site.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for_port(port, timeout=60, proc=server)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()


def _request(port: int, method: str, path: str, headers: dict[str, str], body: bytes | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    return response, response.read()


@pytest.mark.slow
def test_pages_and_api_answer_503_when_the_database_is_unreachable(dead_database_server):
    port = dead_database_server
    # No database needed: the login form renders for an anonymous visitor.
    login, _ = _request(port, "GET", "/accounts/login/", {})
    assert login.status == 200

    # A signed-in clinician's page: loading the session needs the database.
    page, html = _request(
        port, "GET", "/", {"Cookie": "sessionid=k3y0f4n3x1st1ngs3ss10nwh0s3r0w1sdb", "Accept": "text/html"}
    )
    assert page.status == 503 and page.getheader("Content-Type").startswith("text/html")
    assert page.getheader("Retry-After") == "30"
    assert b"Temporarily unavailable" in html and b"Nothing you saved before is lost" in html
    assert not any(leak in html for leak in LEAKS), html[:2000]
    assert "sessionid" not in (page.getheader("Set-Cookie") or ""), "an outage must not log the clinician out"

    for method, path, body in [
        ("GET", "/api/v1/predictions/", None),
        ("POST", "/api/v1/auth/token/", json.dumps({"username": "dr_ada", "password": "x" * 12}).encode()),
    ]:
        headers = {"Authorization": "Token 0123456789abcdef", "Content-Type": "application/json"}
        if method == "POST":
            headers.pop("Authorization")
        response, raw = _request(port, method, path, headers, body)
        assert response.status == 503, (path, raw[:500])
        assert response.getheader("Content-Type") == "application/json"
        assert response.getheader("Retry-After") == "30"
        assert set(json.loads(raw)) == {"detail"} and "temporarily unavailable" in json.loads(raw)["detail"]
        assert not any(leak in raw for leak in LEAKS), raw[:500]


@pytest.mark.parametrize("error", ["IntegrityError", "ProgrammingError"])
def test_database_bugs_are_not_disguised_as_outages(rf, error):
    """Only "cannot reach the database" is a 503; a bug stays a logged 500."""
    from django import db

    from diagnosis.middleware import DatabaseUnavailableMiddleware

    middleware = DatabaseUnavailableMiddleware(lambda request: pytest.fail("not called"))
    assert middleware.process_exception(rf.get("/api/v1/cases/"), getattr(db, error)("boom")) is None
    assert middleware.process_exception(rf.get("/api/v1/cases/"), db.InterfaceError("closed")).status_code == 503
