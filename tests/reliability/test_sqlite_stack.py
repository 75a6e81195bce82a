"""`make run`'s default stack (SQLite, gunicorn threads, a Celery worker) under a clinician's burst.

Dropping several X-rays at once used to answer 503 "database is locked" for some of them.
This starts the stack exactly as `make run` does (``scripts/run.py``: private Redis, SQLite in a
fresh data folder, migrations, gunicorn with 2 processes x 4 threads, a worker with beat) and
sends 20 uploads at the same moment.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier

import pytest

from fracture_site.localredis import free_port, wait_for_port
from tests.factories import image_bytes

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
UPLOADS = 20
PASSWORD = "a-long-demo-password-77"


def _request(method: str, url: str, *, token: str | None = None, body: bytes | None = None, ctype: str = "") -> tuple:
    request = urllib.request.Request(url, data=body, method=method)  # noqa: S310 (loopback only)
    if token:
        request.add_header("Authorization", f"Token {token}")
    if ctype:
        request.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def _form(fields: dict[str, str]) -> bytes:
    return urllib.parse.urlencode(fields).encode()


def _multipart(name: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{name}"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.fixture
def sqlite_stack(tmp_path, tiny_model_root):
    """``scripts/run.py`` on a free port with its own data folder; stopped with Ctrl-C (SIGINT)."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "FRACTURE_", "DATABASE_", "REDIS_"))}
    env = {
        **clean,
        "PORT": str(port),
        "FRACTURE_DATA_DIR": str(tmp_path / "var"),
        "DEMO_PASSWORD": PASSWORD,
        "FRACTURE_MODELS_DIR": str(tiny_model_root),
        "FRACTURE_MODEL": "tiny-test",
    }
    log = tmp_path / "stack.log"
    with log.open("w") as handle:
        stack = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "run.py")],
            cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        wait_for_port(port, timeout=240, proc=stack)
        yield f"http://127.0.0.1:{port}", log
    finally:
        if stack.poll() is None:
            stack.send_signal(signal.SIGINT)
            try:
                stack.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(stack.pid, signal.SIGKILL)
                stack.wait(timeout=10)


def test_twenty_simultaneous_uploads_on_sqlite_all_succeed_once(sqlite_stack):
    base, log = sqlite_stack
    assert "SQLite at" in log.read_text()
    code, body = _request("POST", f"{base}/api/v1/auth/token/", body=_form({"username": "demo", "password": PASSWORD}))
    assert code == 200, body
    token = body["token"]
    code, patient = _request(
        "POST", f"{base}/api/v1/patients/", token=token,
        body=_form({"mrn": f"BURST-{uuid.uuid4().hex[:6]}", "name": "Burst Patient", "date_of_birth": "1970-01-01"}),
        ctype="application/x-www-form-urlencoded",
    )  # fmt: skip
    assert code == 201, patient
    code, case = _request(
        "POST", f"{base}/api/v1/cases/", token=token,
        body=_form({"patient": str(patient["id"]), "body_region": "wrist"}), ctype="application/x-www-form-urlencoded",
    )  # fmt: skip
    assert code == 201, case

    bodies = [_multipart(f"xray-{n}.png", image_bytes("PNG", size=(96, 128), variant=n + 1)) for n in range(UPLOADS)]
    start = Barrier(UPLOADS)
    url = f"{base}/api/v1/cases/{case['id']}/radiographs/"

    def upload(n: int) -> tuple:
        start.wait()  # all 20 leave together, as when a clinician drops a folder
        return _request("POST", url, token=token, body=bodies[n][0], ctype=bodies[n][1])

    with ThreadPoolExecutor(max_workers=UPLOADS) as pool:
        results = list(pool.map(upload, range(UPLOADS)))
    assert [code for code, _ in results] == [202] * UPLOADS, [r for r in results if r[0] != 202][:3]

    deadline = time.monotonic() + 180
    while True:
        code, page = _request("GET", f"{base}/api/v1/predictions/?case={case['id']}&page_size=100", token=token)
        assert code == 200, page
        if all(p["status"] == "succeeded" for p in page["results"]) or time.monotonic() > deadline:
            break
        time.sleep(1)
    predictions = page["results"]
    assert page["count"] == UPLOADS
    assert [p["status"] for p in predictions] == ["succeeded"] * UPLOADS, log.read_text()[-3000:]
    assert sorted(p["radiograph"] for p in predictions) == sorted(body["id"] for _, body in results)
    assert "database is locked" not in log.read_text()
