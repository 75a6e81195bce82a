"""Claiming and running predictions, failures, retries and the stale-prediction sweeper."""

from __future__ import annotations

import datetime

import pytest
from django.db import OperationalError
from django.utils import timezone

from diagnosis import services, tasks
from diagnosis.models import Prediction
from tests.factories import PredictionFactory

pytestmark = pytest.mark.django_db

Status = Prediction.Status


def test_claim_is_exactly_once():
    prediction = PredictionFactory()
    assert services.prediction_claim(prediction_id=prediction.pk) is True
    assert services.prediction_claim(prediction_id=prediction.pk) is False
    prediction.refresh_from_db()
    assert (prediction.status, prediction.attempts) == (Status.RUNNING, 1)
    assert prediction.started_at is not None


def test_run_with_a_real_tiny_model_stores_the_result(tiny_model):
    prediction = PredictionFactory()
    tasks.predict.run(prediction.pk)
    prediction.refresh_from_db()
    assert prediction.status == Status.SUCCEEDED, prediction.error
    assert prediction.label in ("fractured", "not_fractured")
    assert 0.0 <= prediction.probability <= 1.0
    assert (prediction.threshold, prediction.model_version) == (0.5, tiny_model)
    assert prediction.inference_ms > 0 and prediction.finished_at >= prediction.started_at


def test_second_delivery_is_a_quiet_no_op(monkeypatch):
    prediction = PredictionFactory(fractured=True)
    monkeypatch.setattr("inference.predictor.get_predictor", lambda: pytest.fail("model must not run"))
    tasks.predict.run(prediction.pk)
    prediction.refresh_from_db()
    assert (prediction.status, prediction.attempts) == (Status.SUCCEEDED, 0)


def test_a_run_taken_over_midway_does_not_write_its_result(tiny_model, monkeypatch):
    """A run that outlived the time limit lost the row to a newer run: only the newer one writes."""
    from inference.predictor import get_predictor

    prediction = PredictionFactory()
    predictor = get_predictor()
    real_predict = predictor.predict_images

    def taken_over_while_running(images):
        later = timezone.now() + datetime.timedelta(seconds=1)
        Prediction.objects.filter(pk=prediction.pk).update(started_at=later, attempts=2)
        return real_predict(images)

    monkeypatch.setattr(predictor, "predict_images", taken_over_while_running)
    tasks.predict.run(prediction.pk)
    prediction.refresh_from_db()
    assert (prediction.status, prediction.label, prediction.probability) == (Status.RUNNING, None, None)


def test_a_model_error_on_one_image_fails_it_readably_at_once(tiny_model, monkeypatch):
    """LiteRT or numpy refusing an input ends the run failed with the reason, never stuck "running"."""
    from inference.predictor import get_predictor

    prediction = PredictionFactory()

    def broken(images):
        raise RuntimeError("tensor shape mismatch")

    monkeypatch.setattr(get_predictor(), "predict_images", broken)
    tasks.predict.run(prediction.pk)
    prediction.refresh_from_db()
    assert prediction.status == Status.FAILED
    assert prediction.error == "The AI model could not run on this image: tensor shape mismatch"


def test_missing_model_fails_with_a_readable_reason(no_model):
    prediction = PredictionFactory()
    services.prediction_run(prediction_id=prediction.pk)
    prediction.refresh_from_db()
    assert prediction.status == Status.FAILED
    assert prediction.error.startswith("The AI model is unavailable: ")
    assert prediction.finished_at is not None and prediction.label is None


def test_unreadable_file_fails_with_a_readable_reason(tiny_model):
    prediction = PredictionFactory()
    prediction.radiograph.image.storage.delete(prediction.radiograph.image.name)
    services.prediction_run(prediction_id=prediction.pk)
    prediction.refresh_from_db()
    assert prediction.status == Status.FAILED
    assert prediction.error.startswith("The radiograph file could not be read: ")


def test_transient_database_error_puts_the_row_back_for_a_retry(monkeypatch, tiny_model):
    prediction = PredictionFactory()

    def flaky(*args: object, **kwargs: object) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    # The connection drops inside the transaction that stores the result: nothing is kept.
    monkeypatch.setattr("diagnosis.services.predictions._audit_finished", flaky)
    with pytest.raises(OperationalError):
        services.prediction_run(prediction_id=prediction.pk)
    prediction.refresh_from_db()
    assert (prediction.status, prediction.attempts, prediction.label) == (Status.QUEUED, 1, None)
    assert OperationalError in tasks.predict.autoretry_for and tasks.predict.max_retries


def test_soft_time_limit_marks_the_run_failed(monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    prediction = PredictionFactory(status=Status.RUNNING)

    def slow(**kwargs: object) -> None:
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(services, "prediction_run", slow)
    tasks.predict.run(prediction.pk)
    prediction.refresh_from_db()
    assert (prediction.status, prediction.error) == (Status.FAILED, "The AI model took too long and was stopped.")


def test_requeue_adds_a_new_run_once(clinician, team, sent_tasks, django_capture_on_commit_callbacks):
    old = PredictionFactory(radiograph__case__team=team, fractured=True)
    with django_capture_on_commit_callbacks(execute=True):
        new = services.prediction_requeue(user=clinician, radiograph=old.radiograph)
    assert new.pk != old.pk and new.status == Status.QUEUED and sent_tasks == [new.pk]
    assert services.prediction_requeue(user=clinician, radiograph=old.radiograph) == new
    assert old.radiograph.current_prediction == new


def test_sweeper_recovers_unsent_lost_and_stuck_predictions(settings, sent_tasks):
    now = timezone.now()
    ago = lambda seconds: now - datetime.timedelta(seconds=seconds)  # noqa: E731
    unsent = PredictionFactory(created_at=ago(60))
    lost = PredictionFactory(created_at=ago(2000), enqueued_at=ago(settings.FRACTURE_REDISPATCH_AFTER_S + 1))
    fresh = PredictionFactory(created_at=ago(1))
    waiting = PredictionFactory(created_at=ago(60), enqueued_at=ago(60))
    stuck = PredictionFactory(status=Status.RUNNING, started_at=ago(settings.CELERY_TASK_TIME_LIMIT + 60), attempts=1)
    hopeless = PredictionFactory(status=Status.RUNNING, started_at=ago(10_000), attempts=3)
    busy = PredictionFactory(status=Status.RUNNING, started_at=ago(5), attempts=1)

    result = tasks.sweep_stale_predictions.run()

    assert result == {"requeued": 1, "dispatched": 3, "failed": 1}
    assert sorted(sent_tasks) == sorted([unsent.pk, lost.pk, stuck.pk])
    statuses = {p.pk: p.status for p in Prediction.objects.all()}
    assert statuses[stuck.pk] == statuses[fresh.pk] == statuses[waiting.pk] == Status.QUEUED
    assert (statuses[hopeless.pk], statuses[busy.pk]) == (Status.FAILED, Status.RUNNING)
    assert Prediction.objects.get(pk=hopeless.pk).error == "Gave up after 3 attempts."


def test_beat_schedule_runs_the_sweeper(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-stale-predictions"]
    assert entry["task"] == tasks.sweep_stale_predictions.name
