"""Redis down (stopped, or hung) when a clinician uploads: the upload is kept as ``queued``, the
request answers quickly and never with a 500, and once Redis is back the beat sweeper sends it
to a real worker that completes it.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from diagnosis.models import Prediction
from fracture_site.localredis import start_private_redis
from tests.factories import CaseFactory, image_bytes
from tests.reliability.helpers import api_upload, prediction_status, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# A publish makes a few attempts bounded by the 2 s socket timeouts (settings/celery.py).
STOPPED_BOUND_S = 3.0
HUNG_BOUND_S = 8.0


class PrivateRedis:
    """A Redis server this test may stop and start again on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.process, self.url = start_private_redis(workdir)
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])

    def hang(self) -> None:
        """Freeze it: connections are accepted by the kernel but never answered."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def stop(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)  # also ends a frozen server
        self.process.wait(timeout=10)

    def start(self) -> None:
        self.process, _ = start_private_redis(self.workdir, port=self.port)


@pytest.fixture
def private_redis(tmp_path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis")
    yield server
    if server.process.poll() is None:
        server.stop()


@pytest.fixture
def broker_url(private_redis) -> str:
    return private_redis.url


def _timed(action):
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def test_uploads_while_redis_is_down_are_kept_and_completed_when_it_is_back(
    private_redis, start_worker, api_client, clinician_client, team
):
    case = CaseFactory(team=team)
    worker = start_worker(beat=True, env={"FRACTURE_SWEEP_INTERVAL_S": "1", "FRACTURE_SWEEP_UNSENT_AFTER_S": "1"})
    before = api_upload(api_client, case, name="before.png")["prediction"]["id"]  # a live broker connection
    wait_for(lambda: prediction_status(before) == "succeeded", timeout=90, what="the first upload", log=worker.output)

    private_redis.hang()
    hung, hung_s = _timed(lambda: api_upload(api_client, case, name="hung.png"))
    private_redis.stop()
    stopped, stopped_s = _timed(lambda: api_upload(api_client, case, name="stopped.png"))
    form_file = SimpleUploadedFile("form.png", image_bytes("PNG", size=(96, 128)), content_type="image/png")
    form, form_s = _timed(lambda: clinician_client.post(f"/cases/{case.pk}/upload/", {"image": form_file}))
    assert form.status_code == 302, form.content
    timings = f"{hung_s:.1f}s (hung Redis), {stopped_s:.1f}s and {form_s:.1f}s (stopped Redis)"
    assert hung_s < HUNG_BOUND_S and max(stopped_s, form_s) < STOPPED_BOUND_S, f"uploads took {timings}"

    pending = Prediction.objects.filter(radiograph__case=case).exclude(pk=before)
    assert pending.count() == 3
    assert {hung["prediction"]["status"], stopped["prediction"]["status"]} == {"queued"}
    assert set(pending.values_list("status", "enqueued_at")) == {("queued", None)}  # kept, not sent
    page = clinician_client.get(f"/cases/{case.pk}/")
    assert page.status_code == 200 and page.content.count(b"form.png") >= 1
    assert api_client.get(f"/api/v1/predictions/{hung['prediction']['id']}/").json()["status"] == "queued"

    private_redis.start()
    wait_for(
        lambda: set(pending.values_list("status", flat=True)) == {"succeeded"},
        timeout=90,
        what="the sweeper to dispatch the kept uploads",
        log=worker.output,
    )
    assert "dispatched" in worker.output()
    assert set(pending.values_list("attempts", flat=True)) == {1}
    assert worker.alive()
