"""``manage.py dicom_listener`` as deployed: its settings, and the real path
storescu -> listener process -> Redis -> a real Celery worker -> stored prediction."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from diagnosis.models import DicomCallingAE, Prediction
from fracture_site.settings.dicom import ae_title, dicom_port
from tests.dicom import builders
from tests.dicom.scu import free_port, storescu
from tests.fixtures.worker import _database_url

ROOT = Path(__file__).resolve().parents[2]


def _settings_value(module: str, name: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "FRACTURE_", "DICOM_"))}
    code = f"from django.conf import settings; print(repr(settings.{name}))"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": module, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_production_refuses_unknown_callers_whatever_the_environment_says():
    value = _settings_value(
        "fracture_site.settings.production",
        "DICOM_UNKNOWN_CALLER_TEAM",
        DJANGO_SECRET_KEY="x" * 50,
        DJANGO_ALLOWED_HOSTS="triage.example.org",
        DICOM_UNKNOWN_CALLER_TEAM="Demo care team",
    )
    assert value == "''"


def test_make_run_files_unknown_callers_under_the_demo_team_on_this_machine_only(tmp_path):
    env = {"FRACTURE_DATA_DIR": str(tmp_path)}
    local = "fracture_site.settings.local"
    assert _settings_value(local, "DICOM_UNKNOWN_CALLER_TEAM", **env) == "'Demo care team'"
    assert _settings_value(local, "DICOM_BIND_ADDRESS", **env) == "'127.0.0.1'"
    assert _settings_value(local, "DICOM_PORT", **env) == "11112"
    assert _settings_value(local, "DICOM_AE_TITLE", **env) == "'FRACTURE'"
    assert _settings_value(local, "DICOM_PORT", DICOM_PORT="", **env) == "None"


@pytest.mark.parametrize("raw", ["0", "70000", "dicom", "-1"])
def test_a_bad_port_is_an_error(raw):
    with pytest.raises(ImproperlyConfigured, match="DICOM_PORT"):
        dicom_port(raw)


@pytest.mark.parametrize("raw", ["", "A" * 17, "BAD\\AE", "NAÏVE"])
def test_a_bad_ae_title_is_an_error(raw):
    with pytest.raises(ImproperlyConfigured, match="is not an AE title"):
        ae_title("DICOM_AE_TITLE", raw)


def test_the_command_refuses_bad_arguments_with_one_line(db):
    with pytest.raises(CommandError, match="not a port number"):
        call_command("dicom_listener", port="http")
    with pytest.raises(CommandError, match="not an AE title"):
        call_command("dicom_listener", port="11113", ae_title="FAR-TOO-LONG-AE-TITLE")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_storescu_to_the_listener_process_gets_a_prediction_from_a_real_worker(
    team, tmp_path, broker_url, celery_queue, worker_process
):
    DicomCallingAE.objects.create(ae_title="PACS1", team=team)
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "fracture_site.settings.test",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": broker_url,
        "FRACTURE_CELERY_QUEUE": celery_queue,
        "FRACTURE_DATA_DIR": str(tmp_path),  # the listener's MEDIA_ROOT is this test's
    }
    log = tmp_path / "listener.log"
    with log.open("w") as out:
        listener = subprocess.Popen(
            [sys.executable, "manage.py", "dicom_listener", "--port", str(port), "--bind", "127.0.0.1"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        echoscu = builders.require_tool("echoscu")
        deadline = time.monotonic() + 60
        while subprocess.run([echoscu, "-aet", "PACS1", "-aec", "FRACTURE", "127.0.0.1", str(port)]).returncode:
            assert listener.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        config = type("Config", (), {"ae_title": "FRACTURE", "port": port})
        path = tmp_path / "wrist.dcm"
        path.write_bytes(builders.sixteen_bit_with_window())
        result = storescu(config, path)
        assert result.returncode == 0, result.stdout + result.stderr + log.read_text()

        deadline = time.monotonic() + 120
        prediction = Prediction.objects.first()
        while (prediction is None or prediction.is_pending) and time.monotonic() < deadline:
            time.sleep(0.5)
            prediction = Prediction.objects.first()
        assert prediction is not None and prediction.status == "succeeded", (
            f"{prediction and prediction.error}\n{log.read_text()}\n{Path(worker_process).read_text()[-3000:]}"
        )
        assert prediction.radiograph.format == "DICOM" and prediction.radiograph.case.team == team
    finally:
        os.killpg(listener.pid, signal.SIGTERM)
        listener.wait(timeout=20)
    assert "DICOM node stopped" in log.read_text()
