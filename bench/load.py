"""Load test: concurrent API uploads -> gunicorn -> Redis -> two Celery worker processes -> PostgreSQL.

Usage: .venv/bin/python bench/load.py [--uploads 500] [--clients 20] [--kill-worker]

Creates a fresh PostgreSQL database (dropped afterwards) unless DATABASE_URL is set, uses REDIS_URL
or a private Redis (always on a private queue), serves the model named by FRACTURE_MODEL or the
newest in ml_models/ (else a tiny synthetic model, said so in the output), and starts gunicorn,
two `celery worker -c 1` processes and celery beat (the stale-prediction sweeper). Each client
thread is a clinician with its own token uploading real X-rays from the shared dataset.

Checked: every upload answered 202 (no 5xx), every radiograph has exactly one prediction and it
succeeded. Reported: throughput, p50/p95 upload response time and upload -> stored prediction.
``--kill-worker`` SIGKILLs one worker after a third of the uploads and restarts it 5 s later.
Results go to bench/results/load-<date>[-kill-worker].json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.latency import multipart, percentile, usable_images  # noqa: E402
from fracture_site.localredis import free_port, start_private_redis, wait_for_port  # noqa: E402
from fracture_site.processes import (  # noqa: E402
    ProcessGroup,
    celery_beat_command,
    celery_worker_command,
    gunicorn_command,
)

RESULTS = ROOT / "bench" / "results"
# Short recovery times so a killed worker's prediction comes back within a run (defaults: minutes).
RECOVERY_ENV = {
    "FRACTURE_TASK_SOFT_TIME_LIMIT": "25",
    "FRACTURE_TASK_TIME_LIMIT": "30",
    "FRACTURE_STALE_RUN_MARGIN_S": "5",
    "FRACTURE_SWEEP_INTERVAL_S": "5",
    "FRACTURE_VISIBILITY_TIMEOUT": "60",
    "FRACTURE_UNACKED_RESTORE_INTERVAL_S": "5",
}


@dataclass
class Upload:
    client: int
    started: float  # wall clock, seconds since the epoch
    seconds: float
    status: int
    radiograph_id: int | None = None
    error: str = ""


@contextmanager
def fresh_database() -> Iterator[str]:
    """DATABASE_URL if set, else a new PostgreSQL database on the local server, dropped at the end."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    import psycopg

    name = f"fracture_load_{uuid.uuid4().hex[:8]}"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def choose_model(tmp: Path) -> tuple[dict[str, str], str]:
    """Environment that selects the model, and a line saying which one."""
    from django.conf import settings

    from inference.registry import ModelUnavailable, resolve_version_dir

    try:
        folder = resolve_version_dir()
        return {}, f"model {folder.name} from {folder.parent}"
    except ModelUnavailable:
        from training.testing import build_tiny_model_version

        build_tiny_model_version(tmp / "models", version="tiny-bench")
        note = f"NO SHIPPED MODEL in {settings.FRACTURE_MODELS_DIR}: using a tiny synthetic model (tiny-bench)"
        return {"FRACTURE_MODELS_DIR": str(tmp / "models"), "FRACTURE_MODEL": "tiny-bench"}, note


class Stack:
    """gunicorn, two celery workers and beat; every process in its own group so a kill is total."""

    def __init__(self, env: dict[str, str], tmp: Path, web_workers: int) -> None:
        self.tmp, self.web_workers = tmp, web_workers
        self.group = ProcessGroup(env=env, stop_timeout=30)
        self.port = free_port()

    def _start(self, name: str, command: list[str]) -> None:
        self.group.start(name, command, log=self.tmp / f"{name}.log")

    def start_worker(self, name: str) -> None:
        self._start(name, celery_worker_command(node_name=f"{name}@%h"))

    def start(self) -> None:
        self.start_worker("worker1")
        self.start_worker("worker2")
        self._start("beat", celery_beat_command(schedule=self.tmp / "beat-schedule"))
        self._start("gunicorn", gunicorn_command(port=self.port, workers=self.web_workers, log_level="warning"))
        wait_for_port(self.port, timeout=60, proc=self.group["gunicorn"].process)
        self.wait_ready("worker1")
        self.wait_ready("worker2")

    def wait_ready(self, name: str, timeout: float = 120) -> None:
        log = self.tmp / f"{name}.log"
        deadline = time.monotonic() + timeout
        while " ready." not in log.read_text(errors="replace"):
            if time.monotonic() > deadline or not self.group[name].alive():
                raise SystemExit(f"{name} did not start:\n{log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)

    def kill(self, name: str) -> None:
        self.group[name].kill()

    def stop(self) -> None:
        self.group.stop()


def pick_images(count: int) -> list[Path]:
    """``count`` X-rays from the test split, reused in turn, all of them ones the upload accepts."""
    usable = usable_images()
    return [usable[i % len(usable)] for i in range(count)]


def make_clients(count: int) -> tuple[list[str], list[int]]:
    """``count`` clinicians of one team, each with a token and a case of their own."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from rest_framework.authtoken.models import Token

    from diagnosis.models import Case, Patient

    team = Group.objects.create(name=f"Load team {uuid.uuid4().hex[:6]}")
    tokens, cases = [], []
    for index in range(count):
        user = get_user_model().objects.create(username=f"load-{index}-{uuid.uuid4().hex[:6]}")
        user.groups.add(team)
        tokens.append(Token.objects.create(user=user).key)
        patient = Patient.objects.create(mrn=uuid.uuid4().hex[:12], name=f"Load Patient {index}",
                                         date_of_birth="1970-01-01", team=team, created_by=user)  # fmt: skip
        cases.append(Case.objects.create(patient=patient, team=team, body_region="wrist", created_by=user).pk)
    return tokens, cases


def upload(base: str, token: str, case: int, image: Path, client: int) -> Upload:
    body, content_type = multipart("image", image.name, image.read_bytes())
    request = urllib.request.Request(f"{base}/api/v1/cases/{case}/radiographs/", data=body, method="POST")  # noqa: S310
    request.add_header("Authorization", f"Token {token}")
    request.add_header("Content-Type", content_type)
    started, start = time.time(), time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (loopback only)
            reply = json.loads(response.read())
            return Upload(client, started, time.perf_counter() - start, response.status, reply["id"])
    except urllib.error.HTTPError as exc:
        return Upload(client, started, time.perf_counter() - start, exc.code, error=exc.read()[:300].decode())
    except OSError as exc:  # connection refused or reset: counted as a server failure
        return Upload(client, started, time.perf_counter() - start, 599, error=str(exc))


def run_uploads(args, stack: Stack, tokens: list[str], cases: list[int]) -> tuple[list[Upload], list[str]]:
    images = pick_images(args.uploads)
    base = f"http://127.0.0.1:{stack.port}"
    done: list[Upload] = []
    events: list[str] = []
    lock = threading.Lock()
    kill_at = args.uploads // 3 if args.kill_worker else None

    def killer() -> None:
        stack.kill("worker1")
        events.append(f"{time.strftime('%H:%M:%S')} SIGKILL worker1 after {kill_at} uploads")
        time.sleep(5)
        stack.start_worker("worker1")
        events.append(f"{time.strftime('%H:%M:%S')} worker1 restarted")

    def client(index: int) -> None:
        for number in range(index, args.uploads, args.clients):
            result = upload(base, tokens[index], cases[index], images[number], index)
            with lock:
                done.append(result)
                if len(done) == kill_at:
                    threading.Thread(target=killer).start()

    with ThreadPoolExecutor(max_workers=args.clients) as pool:
        list(pool.map(client, range(args.clients)))
    while args.kill_worker and len(events) < 2:  # the restart must happen before we judge
        time.sleep(0.2)
    return done, events


def warmup(count: int, stack: Stack, token: str, case: int, timeout: float) -> None:
    """Let each worker load the model and each gunicorn worker import the views, off the clock."""
    base = f"http://127.0.0.1:{stack.port}"
    with ThreadPoolExecutor(max_workers=count or 1) as pool:
        done = list(pool.map(lambda image: upload(base, token, case, image, -1), pick_images(count)))
    wait_for_predictions([u.radiograph_id for u in done if u.radiograph_id], timeout)


def wait_for_predictions(radiograph_ids: list[int], timeout: float) -> None:
    from diagnosis.models import Prediction

    pending = Prediction.objects.filter(radiograph_id__in=radiograph_ids, status__in=("queued", "running"))
    deadline = time.monotonic() + timeout
    while pending.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"{pending.count()} predictions still pending after {timeout:.0f}s")
        time.sleep(0.5)


def judge(uploads: list[Upload]) -> dict:
    """Counts and figures; ``ok`` only if nothing was lost, failed or done twice."""
    from django.db.models import Count, Min

    from diagnosis.models import Prediction, Radiograph

    accepted = [u for u in uploads if u.status == 202]
    ids = [u.radiograph_id for u in accepted]
    per_radiograph = Radiograph.objects.filter(pk__in=ids).annotate(n=Count("predictions"))
    predictions = Prediction.objects.filter(radiograph_id__in=ids)
    statuses = dict(predictions.values_list("status").annotate(n=Count("id")).order_by())
    attempts = dict(predictions.values_list("attempts").annotate(n=Count("id")).order_by())
    finished = dict(predictions.filter(status="succeeded").values_list("radiograph_id").annotate(t=Min("finished_at")))
    started = {u.radiograph_id: u.started for u in accepted}
    to_result = [finished[r].timestamp() - started[r] for r in ids if r in finished]
    response_s = [u.seconds for u in accepted]
    first = min(u.started for u in uploads)
    last_upload = max(u.started + u.seconds for u in uploads)
    last_result = max(t.timestamp() for t in finished.values()) if finished else last_upload
    summary = {
        "uploads": len(uploads),
        "accepted_202": len(accepted),
        "server_errors_5xx": sum(u.status >= 500 for u in uploads),
        "other_status": sorted({u.status for u in uploads} - {202}),
        "radiographs_stored": per_radiograph.count(),
        "radiographs_with_exactly_one_prediction": per_radiograph.filter(n=1).count(),
        "prediction_statuses": statuses,
        "prediction_attempts": {str(k): v for k, v in sorted(attempts.items())},
        "uploads_per_s": round(len(accepted) / (last_upload - first), 2),
        "predictions_per_s": round(len(finished) / (last_result - first), 2),
        "wall_s": round(last_result - first, 1),
        "upload_response_ms": {"p50": ms(percentile(response_s, 50)), "p95": ms(percentile(response_s, 95))},
        "upload_to_prediction_ms": {"p50": ms(percentile(to_result, 50)), "p95": ms(percentile(to_result, 95))},
        "errors": [u.error for u in uploads if u.error][:5],
    }
    summary["ok"] = (
        summary["accepted_202"] == len(uploads)
        and summary["radiographs_with_exactly_one_prediction"] == len(uploads)
        and statuses == {"succeeded": len(uploads)}
    )
    return summary


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uploads", type=int, default=500)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=4, help="uploads before the clock starts (model loading)")
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--kill-worker", action="store_true", help="SIGKILL a celery worker a third of the way")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for all predictions")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    children = ProcessGroup()
    try:
        with fresh_database() as database_url:
            env = dict(os.environ, DJANGO_SETTINGS_MODULE="fracture_site.settings.local", DJANGO_DEBUG="false",
                       FRACTURE_DATA_DIR=str(tmp), DATABASE_URL=database_url,
                       FRACTURE_CELERY_QUEUE=f"load-{uuid.uuid4().hex[:8]}", **RECOVERY_ENV)  # fmt: skip
            if not os.environ.get("REDIS_URL"):
                redis, env["REDIS_URL"] = start_private_redis(tmp / "redis")
                children.adopt("redis", redis)
            os.environ.update(env)
            import django

            django.setup()
            model_env, model_note = choose_model(tmp)
            env.update(model_env)
            os.environ.update(model_env)
            subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
            # As `make run`: register the shipped versions and activate the newest (workers serve only
            # an activated version, unless FRACTURE_MODEL names one).
            subprocess.run([sys.executable, "manage.py", "register_models"], cwd=ROOT, env=env, check=True)
            tokens, cases = make_clients(args.clients)
            stack = Stack(env, tmp, args.web_workers)
            try:
                stack.start()
                warmup(args.warmup, stack, tokens[0], cases[0], args.timeout)
                uploads, events = run_uploads(args, stack, tokens, cases)
                wait_for_predictions([u.radiograph_id for u in uploads if u.radiograph_id], args.timeout)
                summary = judge(uploads)
            finally:
                stack.stop()
            report(args, summary, events, model_note, env, tmp)
            from django.db import connections

            connections.close_all()
    finally:
        children.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    if not summary["ok"]:
        raise SystemExit(1)


def report(args, summary: dict, events: list[str], model_note: str, env: dict[str, str], tmp: Path) -> None:
    scenario = "kill-worker" if args.kill_worker else "steady"
    config = {
        "uploads": args.uploads,
        "clients": args.clients,
        "warmup_uploads": args.warmup,
        "gunicorn_workers": args.web_workers,
        "celery_workers": "2 processes x concurrency 1 (prefork) + beat",
        "cpus": os.cpu_count(),
        "database": env["DATABASE_URL"].split("://")[0],
        "model": model_note,
        "recovery": RECOVERY_ENV,
    }
    date = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    result = {"scenario": scenario, "date": date, "config": config, "events": events, **summary}
    RESULTS.mkdir(exist_ok=True)
    suffix = "-kill-worker" if args.kill_worker else ""
    path = RESULTS / f"load-{datetime.date.today():%Y-%m-%d}{suffix}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"{'OK' if summary['ok'] else 'FAILED'}: {scenario}, results in {path.relative_to(ROOT)}")
    if not summary["ok"]:
        for log in sorted(tmp.glob("*.log")):
            print(f"--- {log.name} (tail) ---\n{log.read_text(errors='replace')[-2000:]}")


if __name__ == "__main__":
    main()
