"""Time from `make run` on a fresh clone to the first page, cold (new venv) and warm (reused).

Usage: .venv/bin/python bench/startup.py [--port 8765] [--keep]
Clones this repository's HEAD into a temporary folder beside it (so ../shared resolves as in CI),
runs `make run` there with no DATABASE_URL and no REDIS_URL (SQLite + private Redis), polls the
login page until it answers 200, then stops the stack with SIGINT and checks that it exits.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def wait_for_page(url: str, proc: subprocess.Popen, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"make run exited with {proc.returncode} before serving")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback only)
                if response.status == 200:
                    return time.monotonic() - start
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    raise SystemExit(f"no page after {timeout:.0f}s")


def one_start(clone: Path, port: int, log: Path) -> tuple[float, float]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "VIRTUAL_ENV")}
    env["PORT"] = str(port)
    with log.open("ab") as out:
        proc = subprocess.Popen(["make", "run"], cwd=clone, env=env, stdout=out, stderr=out, start_new_session=True)
        seconds = wait_for_page(f"http://127.0.0.1:{port}/accounts/login/", proc, timeout=900)
        stop = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
        return seconds, time.monotonic() - stop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--keep", action="store_true", help="keep the clone for inspection")
    args = parser.parse_args()
    clone = Path(tempfile.mkdtemp(prefix="bench-clone-", dir=ROOT.parent))
    log = clone.with_suffix(".log")
    try:
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        cold, cold_stop = one_start(clone, args.port, log)
        warm, warm_stop = one_start(clone, args.port, log)
    finally:
        if not args.keep:
            shutil.rmtree(clone, ignore_errors=True)
    print(f"fresh clone -> first page (new .venv, migrations, static): {cold:7.1f} s  (Ctrl-C stop {cold_stop:.1f} s)")
    print(f"second start -> first page (venv reused):                 {warm:7.1f} s  (Ctrl-C stop {warm_stop:.1f} s)")
    print(f"log: {log}")


if __name__ == "__main__":
    main()
