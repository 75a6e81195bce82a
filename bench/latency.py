"""End-to-end latency: API upload -> Redis -> warm Celery worker -> stored prediction.

Usage: .venv/bin/python bench/latency.py [--uploads 50] [--workers 1]
Starts gunicorn and a Celery worker (prefork) as in production, on DATABASE_URL/REDIS_URL when set,
else on a temporary SQLite file and a private Redis. Uploads real X-rays from the shared dataset's
test split one after another through the HTTP API, and polls the database for the stored result.

Printed per upload phase: HTTP 202 response time, queue wait (created -> started), inference time,
and the total from the start of the upload request to `finished_at` (both read the same host's clock).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATASET = ROOT.parent / "shared" / "datasets" / "bone-fracture"

from fracture_site.localredis import free_port, start_private_redis, wait_for_port  # noqa: E402
from fracture_site.processes import ProcessGroup, celery_worker_command, gunicorn_command  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def multipart(field: str, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def api(method: str, url: str, token: str | None = None, body: bytes | None = None, content_type: str = "") -> dict:
    request = urllib.request.Request(url, data=body, method=method)  # noqa: S310 (loopback only)
    if token:
        request.add_header("Authorization", f"Token {token}")
    if content_type:
        request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())


def usable_images() -> list[Path]:
    """The test split's X-rays that the upload check accepts (a few dataset JPEGs are truncated)."""
    from inference.imaging import ImageDecodeError, open_image

    def accepted(path: Path) -> bool:
        try:
            open_image(path)
        except ImageDecodeError:
            return False
        return True

    files = sorted(p for p in (DATASET / "test").rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    usable = [path for path in files if accepted(path)]
    if not usable:
        raise SystemExit(f"no readable images under {DATASET / 'test'}")
    return usable


def pick_images(count: int) -> list[Path]:
    """``count`` images spread over the whole split."""
    files = usable_images()
    step = max(1, len(files) // count)
    return [files[(i * step) % len(files)] for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--uploads", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="Celery worker processes")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="fracture_site.settings.local", FRACTURE_DATA_DIR=str(tmp))
    env.setdefault("DATABASE_URL", f"sqlite:///{tmp / 'db.sqlite3'}")
    env["DJANGO_DEBUG"] = "false"
    redis = None
    if not os.environ.get("REDIS_URL"):
        redis, env["REDIS_URL"] = start_private_redis(tmp / "redis")
    group = ProcessGroup(env=env, stop_timeout=30)
    if redis is not None:
        group.adopt("redis", redis)
    os.environ.update(env)
    with group:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        # As `make run`: register the shipped versions and activate the newest (workers serve only
        # an activated version, unless FRACTURE_MODEL names one).
        subprocess.run([sys.executable, "manage.py", "register_models"], cwd=ROOT, env=env, check=True)
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group
        from rest_framework.authtoken.models import Token

        from diagnosis.models import Case, Patient, Prediction

        team, _ = Group.objects.get_or_create(name="Bench team")
        user, _ = get_user_model().objects.get_or_create(username=f"bench-{uuid.uuid4().hex[:6]}")
        user.groups.add(team)
        token = Token.objects.create(user=user).key
        patient = Patient.objects.create(mrn=uuid.uuid4().hex[:12], name="Bench Patient", date_of_birth="1970-01-01",
                                         team=team, created_by=user)  # fmt: skip
        case = Case.objects.create(patient=patient, team=team, body_region="wrist", created_by=user)

        port = free_port()
        group.start("celery worker", celery_worker_command(concurrency=args.workers, log_level="WARNING"))
        web = group.start("gunicorn", gunicorn_command(port=port, workers=2, log_level="warning"))
        wait_for_port(port, timeout=60, proc=web.process)
        url = f"http://127.0.0.1:{port}/api/v1/cases/{case.pk}/radiographs/"

        images = pick_images(args.warmup + args.uploads)
        rows = []
        for index, path in enumerate(images):
            body, content_type = multipart("image", path.name, path.read_bytes())
            start_wall, start = time.time(), time.perf_counter()
            reply = api("POST", url, token, body, content_type)
            accepted = time.perf_counter() - start
            prediction_id = reply["prediction"]["id"]
            while True:
                prediction = Prediction.objects.get(pk=prediction_id)
                if not prediction.is_pending:
                    break
                if time.perf_counter() - start > 300:
                    raise SystemExit(f"prediction {prediction_id} still {prediction.status} after 300 s")
                time.sleep(0.002)
            if prediction.status != Prediction.Status.SUCCEEDED:
                raise SystemExit(f"prediction {prediction_id} {prediction.status}: {prediction.error}")
            if index >= args.warmup:
                rows.append({
                    "accepted": accepted * 1000,
                    "queue": (prediction.started_at - prediction.created_at).total_seconds() * 1000,
                    "inference": prediction.inference_ms,
                    "total": (prediction.finished_at.timestamp() - start_wall) * 1000,
                })  # fmt: skip
        print(f"{args.uploads} uploads, warm worker (concurrency {args.workers}), model {prediction.model_version}")
        print(f"database {env['DATABASE_URL'].split(':')[0]}, broker {env['REDIS_URL']}")
        print(f"{'phase':<34}{'p50 ms':>10}{'p95 ms':>10}{'mean ms':>10}")
        names = {"accepted": "upload -> HTTP 202", "queue": "queued -> worker started",
                 "inference": "model inference (worker)", "total": "upload -> stored prediction"}  # fmt: skip
        for key, label in names.items():
            values = [row[key] for row in rows]
            p50, p95, mean = percentile(values, 50), percentile(values, 95), statistics.fmean(values)
            print(f"{label:<34}{p50:>10.1f}{p95:>10.1f}{mean:>10.1f}")


if __name__ == "__main__":
    main()
