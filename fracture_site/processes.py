"""Start and stop the processes of a local stack: gunicorn, Celery workers, beat, the DICOM node.

Used by ``make run`` (scripts/run.py), the benchmarks and the tests' real workers. Every child
leads its own process group, so stopping it also ends what it forked (gunicorn's and Celery's
pool processes, a shell's commands). Stopping sends SIGTERM to the leader alone, which lets
gunicorn and Celery shut their pools down in order, and after a timeout SIGKILLs whatever is
left of the group: a leader that ignored SIGTERM, or a grandchild its leader left behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Child:
    """One started process, leader of its own process group (its pgid is its pid)."""

    name: str
    process: subprocess.Popen
    log: Path | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log else ""

    def terminate(self) -> None:
        """SIGTERM to the leader only: it stops its own children in order."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL the whole group at once, as the OOM killer or a lost machine would."""
        _kill_group(self.pid)
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 15) -> None:
        self.terminate()
        self.wait_or_kill(time.monotonic() + timeout)

    def wait_or_kill(self, deadline: float) -> None:
        """Wait for the leader until ``deadline``, then SIGKILL whatever of the group is left."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        _kill_group(self.pid)
        self.process.wait(timeout=10)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group has already exited
        os.killpg(pgid, signal.SIGKILL)


class ProcessGroup:
    """Children started in their own process groups and stopped together, the last started first.

    ``with ProcessGroup() as group: group.start("web", gunicorn_command(port=8000))``: leaving the
    block (normally or by an exception, Ctrl-C included) stops every child.
    """

    def __init__(self, *, cwd: Path = ROOT, env: Mapping[str, str] | None = None, stop_timeout: float = 15) -> None:
        self.cwd, self.env, self.stop_timeout = cwd, dict(env) if env is not None else None, stop_timeout
        self.children: list[Child] = []

    def start(
        self, name: str, command: Sequence[str], *, env: Mapping[str, str] | None = None, log: Path | None = None
    ) -> Child:
        """Start ``command``; its output goes to ``log`` (appended) or to this process's own."""
        environment = {**(self.env if self.env is not None else os.environ), **(env or {})}
        handle = log.open("a") if log else None
        try:
            process = subprocess.Popen(
                list(command),
                cwd=self.cwd,
                env=environment,
                stdout=handle,
                stderr=subprocess.STDOUT if handle else None,
                start_new_session=True,
            )
        finally:
            if handle:
                handle.close()  # the child holds its own copy
        return self.adopt(name, process, log=log)

    def adopt(self, name: str, process: subprocess.Popen, *, log: Path | None = None) -> Child:
        """Take charge of a process started elsewhere in its own session (a private Redis)."""
        child = Child(name, process, log)
        self.children.append(child)
        return child

    def __getitem__(self, name: str) -> Child:
        """The child most recently started under ``name``."""
        for child in reversed(self.children):
            if child.name == name:
                return child
        raise KeyError(name)

    def first_exited(self) -> Child | None:
        return next((child for child in self.children if not child.alive()), None)

    def stop(self, timeout: float | None = None) -> None:
        """SIGTERM every leader (last started first), then SIGKILL what is left after ``timeout``."""
        deadline = time.monotonic() + (self.stop_timeout if timeout is None else timeout)
        for child in reversed(self.children):
            child.terminate()
        for child in reversed(self.children):
            child.wait_or_kill(deadline)

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def manage_command(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "manage.py"), *args]


def gunicorn_command(
    *, port: int, workers: int = 2, threads: int | None = None, log_level: str | None = None, extra: Sequence[str] = ()
) -> list[str]:
    """gunicorn serving the site on 127.0.0.1:``port``."""
    command = [sys.executable, "-m", "gunicorn", "fracture_site.wsgi", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(workers)]
    if threads is not None:
        command += ["--threads", str(threads)]
    if log_level:
        command += ["--log-level", log_level]
    return [*command, *extra]


def celery_worker_command(
    *,
    app: str = "fracture_site",
    concurrency: int = 1,
    pool: str | None = None,
    queue: str | None = None,
    node_name: str | None = None,
    log_level: str = "INFO",
    quiet: bool = True,
    beat_schedule: Path | None = None,
) -> list[str]:
    """``celery worker``; ``quiet`` skips gossip, mingle and heartbeats (one worker needs none);
    ``beat_schedule`` embeds celery beat (the sweeper) with its schedule file there."""
    command = [sys.executable, "-m", "celery", "-A", app, "worker", "--concurrency", str(concurrency)]
    command += ["--loglevel", log_level]
    if pool:
        command += ["--pool", pool]
    if queue:
        command += ["--queues", queue]
    if node_name:
        command += ["--hostname", node_name]
    if quiet:
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    if beat_schedule is not None:
        command += ["--beat", "--schedule", str(beat_schedule)]
    return command


def celery_beat_command(*, schedule: Path, app: str = "fracture_site", log_level: str = "INFO") -> list[str]:
    return [sys.executable, "-m", "celery", "-A", app, "beat", "--loglevel", log_level, "--schedule", str(schedule)]


def dicom_listener_command(*, port: str | int) -> list[str]:
    return manage_command("dicom_listener", "--port", str(port))
