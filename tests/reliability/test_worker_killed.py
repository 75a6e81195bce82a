"""Worker killed (SIGKILL) mid-prediction: the run still ends ``succeeded``, exactly once.

Late acknowledgement keeps the message in Redis's "unacked" set when the worker dies; two ways
then bring the prediction back, each tested alone: the beat sweeper requeues a ``running`` row
older than the hard time limit, and the broker redelivers the message after the visibility
timeout, which the claim accepts because the run is stale. A message that comes back after
the prediction succeeded is a no-op (idempotent claim).
"""

from __future__ import annotations

import json

import pytest
from redis import Redis

from diagnosis.models import Prediction
from tests.factories import CaseFactory
from tests.reliability.helpers import api_upload, prediction_status, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SLOW_APP = "tests.reliability.slow_worker"
# Short limits so a stale run is recognised in seconds: solo workers do not enforce time
# limits, so these only shorten "older than the hard time limit" for the claim and the sweeper.
FAST_RECOVERY = {
    "FRACTURE_TASK_SOFT_TIME_LIMIT": "1",
    "FRACTURE_TASK_TIME_LIMIT": "1",
    "FRACTURE_STALE_RUN_MARGIN_S": "1",
    "FRACTURE_UNACKED_RESTORE_INTERVAL_S": "1",
}


def _unacked(redis: Redis, queue: str) -> dict[bytes, float]:
    """Delivery tags (and delivery times) of this queue's messages a worker holds without an ack."""
    mine = {tag for tag, payload in redis.hgetall("unacked").items() if json.loads(payload)[2] == queue}
    return {tag: score for tag, score in redis.zrange("unacked_index", 0, -1, withscores=True) if tag in mine}


def _run_and_kill(start_worker, api_client, team) -> tuple[int, int]:
    """Upload, let a slow worker claim it, SIGKILL that worker; returns (prediction, radiograph) ids."""
    doomed = start_worker(app=SLOW_APP, env={"FRACTURE_TEST_PREDICT_DELAY_S": "60"})
    body = api_upload(api_client, CaseFactory(team=team))
    prediction_id = body["prediction"]["id"]
    wait_for(lambda: prediction_status(prediction_id) == "running", timeout=60, what="the claim", log=doomed.output)
    doomed.kill()
    row = Prediction.objects.get(pk=prediction_id)
    assert (row.status, row.attempts) == ("running", 1)
    return prediction_id, body["id"]


def _assert_succeeded_once(prediction_id: int, radiograph_id: int) -> Prediction:
    row = Prediction.objects.get(pk=prediction_id)
    assert row.status == "succeeded" and row.label in ("fractured", "not_fractured"), row.error
    assert row.attempts == 2  # the killed run and the one that finished; no third run
    assert Prediction.objects.filter(radiograph_id=radiograph_id).count() == 1
    return row


def test_sweeper_recovers_a_killed_run_and_a_late_redelivery_is_a_no_op(
    start_worker, api_client, team, broker_url, celery_queue
):
    prediction_id, radiograph_id = _run_and_kill(start_worker, api_client, team)
    redis = Redis.from_url(broker_url)
    assert len(_unacked(redis, celery_queue)) == 1, "late ack: the message must outlive the killed worker"

    # Default 600 s visibility timeout: only the sweeper (beat, every second) can recover it now.
    rescuer = start_worker(beat=True, env={**FAST_RECOVERY, "FRACTURE_SWEEP_INTERVAL_S": "1"})
    wait_for(lambda: prediction_status(prediction_id) == "succeeded", timeout=90, what="the rescue", log=rescuer.output)
    first = _assert_succeeded_once(prediction_id, radiograph_id)
    assert "sweep: 1 requeued, 1 dispatched" in rescuer.output()

    # Let the visibility timeout pass for the killed worker's message (age it in Redis, rather
    # than wait 600 s): the rescuer gets it again and the claim turns it into a no-op.
    for tag in _unacked(redis, celery_queue):
        redis.zadd("unacked_index", {tag: 0})
    wait_for(lambda: not _unacked(redis, celery_queue), timeout=30, what="the redelivery", log=rescuer.output)
    wait_for(
        lambda: f"prediction {prediction_id} already claimed or finished" in rescuer.output(),
        timeout=30,
        what="the redelivered message to be handled",
        log=rescuer.output,
    )
    last = _assert_succeeded_once(prediction_id, radiograph_id)
    assert (last.finished_at, last.probability) == (first.finished_at, first.probability)


def test_redelivery_after_the_visibility_timeout_takes_over_a_killed_run(start_worker, api_client, team):
    prediction_id, radiograph_id = _run_and_kill(start_worker, api_client, team)
    # No sweeper anywhere: only the broker's redelivery and the stale-run claim can recover it.
    rescuer = start_worker(env={**FAST_RECOVERY, "FRACTURE_VISIBILITY_TIMEOUT": "2"})
    wait_for(
        lambda: prediction_status(prediction_id) == "succeeded", timeout=90, what="the redelivery", log=rescuer.output
    )
    _assert_succeeded_once(prediction_id, radiograph_id)
