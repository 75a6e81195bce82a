"""ProcessGroup: stopping a child ends its whole process group, whatever the child does."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from fracture_site.processes import (
    ProcessGroup,
    celery_beat_command,
    celery_worker_command,
    gunicorn_command,
)

# A child that ignores SIGTERM and writes its pid once it does, so the test knows it is armed.
STUBBORN = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(sys.argv[1], "w").write(str(os.getpid()))
while True:
    time.sleep(1)
"""
# A child that leaves a grandchild (which ignores SIGTERM too) behind and exits on SIGTERM.
PARENT = """
import subprocess, sys, time
grandchild = subprocess.Popen([sys.executable, "-c", sys.argv[2], sys.argv[1]])
while True:
    time.sleep(1)
"""


def _wait_for_pid(path: Path, timeout: float = 15) -> int:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text()):
        assert time.monotonic() < deadline, f"no pid in {path}"
        time.sleep(0.05)
    return int(path.read_text())


def _gone(pid: int, timeout: float = 10) -> bool:
    """True once ``pid`` no longer runs (a zombie awaiting its reaper counts as gone)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def test_a_child_that_ignores_sigterm_is_killed_after_the_timeout(tmp_path):
    pid_file = tmp_path / "pid"
    group = ProcessGroup(cwd=tmp_path)
    child = group.start("stubborn", [sys.executable, "-c", STUBBORN, str(pid_file)])
    assert _wait_for_pid(pid_file) == child.pid
    assert os.getpgid(child.pid) == child.pid  # it leads its own group

    started = time.monotonic()
    group.stop(timeout=1)
    elapsed = time.monotonic() - started
    assert not child.alive()
    assert child.process.returncode == -9  # SIGTERM was ignored: SIGKILL ended it
    assert 0.9 <= elapsed < 10


def test_a_grandchild_does_not_survive_its_parent(tmp_path):
    pid_file = tmp_path / "grandchild"
    with ProcessGroup(cwd=tmp_path, stop_timeout=5) as group:
        parent = group.start("parent", [sys.executable, "-c", PARENT, str(pid_file), STUBBORN])
        grandchild = _wait_for_pid(pid_file)
        assert os.getpgid(grandchild) == parent.pid
    assert parent.process.returncode == -15  # the parent stopped on SIGTERM, in time
    assert _gone(grandchild), "the grandchild outlived the group"


def test_a_child_that_exits_on_sigterm_stops_at_once_and_kill_is_immediate(tmp_path):
    group = ProcessGroup(cwd=tmp_path)
    polite = group.start("polite", [sys.executable, "-c", "import time; time.sleep(60)"])
    stubborn = group.start("stubborn", [sys.executable, "-c", STUBBORN, str(tmp_path / "pid")])
    _wait_for_pid(tmp_path / "pid")
    assert group.first_exited() is None

    group["stubborn"].kill()
    assert stubborn.process.returncode == -9
    assert group.first_exited() is stubborn

    started = time.monotonic()
    group.stop(timeout=30)
    assert polite.process.returncode == -15
    assert time.monotonic() - started < 10  # no waiting on the timeout for a child that obeys


def test_output_goes_to_the_log_and_the_environment_is_merged(tmp_path):
    log = tmp_path / "child.log"
    show = [sys.executable, "-c", "import os; print(os.environ['A'], os.environ['B'])"]
    with ProcessGroup(cwd=tmp_path, env={"A": "group", "B": "group"}) as group:
        child = group.start("show", show, env={"B": "child"}, log=log)
        child.process.wait(timeout=30)
    assert child.output().strip() == "group child"


def test_unknown_names_are_an_error():
    with pytest.raises(KeyError, match="web"):
        ProcessGroup()["web"]


def test_command_builders_name_the_options_each_process_needs(tmp_path):
    web = gunicorn_command(port=8123, workers=3, threads=4, log_level="warning")
    assert web[1:4] == ["-m", "gunicorn", "fracture_site.wsgi"]
    assert "127.0.0.1:8123" in web and web[web.index("--workers") + 1] == "3" and web[web.index("--threads") + 1] == "4"

    worker = celery_worker_command(pool="solo", queue="q1", node_name="w1@%h", beat_schedule=tmp_path / "beat")
    assert worker[1:6] == ["-m", "celery", "-A", "fracture_site", "worker"]
    assert worker[worker.index("--queues") + 1] == "q1" and worker[worker.index("--pool") + 1] == "solo"
    assert "--beat" in worker and worker[worker.index("--schedule") + 1] == str(tmp_path / "beat")
    assert "--without-mingle" in worker
    assert "--without-mingle" not in celery_worker_command(quiet=False)
    assert "--beat" not in celery_worker_command()

    beat = celery_beat_command(schedule=tmp_path / "s")
    assert beat[beat.index("--schedule") + 1] == str(tmp_path / "s") and "beat" in beat
