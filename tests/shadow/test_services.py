"""Shadow runs end to end in-process on the tiny model: selection, claim, progress, failures, audit."""

from __future__ import annotations

import datetime
import os

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from diagnosis.models import AuditEvent, Prediction
from shadow import services
from shadow.models import ShadowPrediction, ShadowRun
from tests.factories import UserFactory
from tests.shadow.conftest import CANDIDATE, register

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin_ann", is_staff=True, is_superuser=True)


def start(admin_user, candidate, n, capture) -> ShadowRun:
    with capture(execute=True):
        return services.shadow_run_start(user=admin_user, candidate=candidate, n=n)


def test_run_predicts_the_last_n_radiographs_with_a_finished_prediction(
    admin_user, candidate, stored, shadow_sent, settings, django_capture_on_commit_callbacks
):
    run = start(admin_user, candidate, 2, django_capture_on_commit_callbacks)
    assert shadow_sent == [(((run.pk,),), {"queue": settings.FRACTURE_SHADOW_QUEUE})]
    assert run.status == ShadowRun.Status.QUEUED

    services.shadow_run_execute(run_id=run.pk)

    run.refresh_from_db()
    assert (run.status, run.done, run.n_selected, run.error) == (ShadowRun.Status.SUCCEEDED, 2, 2, "")
    assert run.thresholds == {"balanced": 0.5, "high_sensitivity": 0.2}
    assert run.started_at <= run.finished_at
    shadows = {s.radiograph_id: s for s in ShadowPrediction.objects.filter(run=run)}
    newest_two = [p.radiograph_id for p in stored[1:]]  # the queued radiograph has no result: skipped
    assert sorted(shadows) == sorted(newest_two)
    for prediction in stored[1:]:
        shadow = shadows[prediction.radiograph_id]
        assert shadow.reference_id == prediction.pk
        assert 0 <= shadow.probability <= 1 and shadow.inference_ms > 0
        expected = {p: "fractured" if shadow.probability >= t else "not_fractured" for p, t in run.thresholds.items()}
        assert shadow.labels == expected
    # Stored predictions are untouched and no new one was made.
    assert Prediction.objects.count() == 4
    assert set(Prediction.objects.values_list("model_version", flat=True)) == {"test", ""}


def test_start_is_audited(admin_user, candidate, stored, django_capture_on_commit_callbacks):
    run = start(admin_user, candidate, 3, django_capture_on_commit_callbacks)
    event = AuditEvent.objects.get(object_type="shadowrun", object_id=str(run.pk))
    assert event.action == AuditEvent.Action.CREATE and event.actor == admin_user
    assert event.extra == {"kind": "shadow_run", "candidate": CANDIDATE, "n_requested": 3}
    assert CANDIDATE in event.description


def test_the_version_behind_the_latest_predictions_is_refused(admin_user, candidate, stored):
    latest = register("test-latest", {})
    Prediction.objects.filter(pk=stored[-1].pk).update(model_version="test-latest", finished_at=timezone.now())
    with pytest.raises(ValidationError, match="made the latest predictions"):
        services.shadow_run_start(user=admin_user, candidate=latest, n=5)
    assert not ShadowRun.objects.exists()


def test_nothing_to_compare_is_refused(admin_user, candidate):
    with pytest.raises(ValidationError, match="No radiograph"):
        services.shadow_run_start(user=admin_user, candidate=candidate, n=5)


@pytest.mark.parametrize("n", [0, 5001])
def test_n_out_of_range_is_refused(admin_user, candidate, stored, n):
    with pytest.raises(ValidationError, match="n_requested"):
        services.shadow_run_start(user=admin_user, candidate=candidate, n=n)


def test_claim_is_exactly_once_and_a_second_delivery_does_nothing(admin_user, candidate, stored):
    run = services.shadow_run_start(user=admin_user, candidate=candidate, n=3)
    assert services.shadow_run_claim(run_id=run.pk) is not None
    assert services.shadow_run_claim(run_id=run.pk) is None
    ShadowRun.objects.filter(pk=run.pk).update(status=ShadowRun.Status.QUEUED)
    services.shadow_run_execute(run_id=run.pk)
    services.shadow_run_execute(run_id=run.pk)  # finished: a quiet no-op
    assert ShadowPrediction.objects.filter(run=run).count() == 3
    assert ShadowRun.objects.get(pk=run.pk).done == 3


def test_missing_candidate_file_fails_with_a_readable_message(admin_user, candidate, stored, settings):
    os.remove(settings.FRACTURE_MODELS_DIR / CANDIDATE / candidate.card["serving_file"])
    run = services.shadow_run_start(user=admin_user, candidate=candidate, n=3)
    services.shadow_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == ShadowRun.Status.FAILED and run.finished_at is not None
    assert run.error.startswith("The candidate model is unavailable: model file missing")
    assert not ShadowPrediction.objects.exists()


def test_unregistered_folder_fails_with_a_readable_message(admin_user, candidate, stored):
    ghost = register("no-such-folder", {})
    run = services.shadow_run_start(user=admin_user, candidate=ghost, n=3)
    services.shadow_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == ShadowRun.Status.FAILED and "'no-such-folder' not found" in run.error


def test_unreadable_radiograph_fails_the_run_naming_it(admin_user, candidate, stored):
    broken = stored[-1].radiograph
    with open(broken.image.path, "wb") as handle:
        handle.write(b"not an image")
    run = services.shadow_run_start(user=admin_user, candidate=candidate, n=3)
    services.shadow_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == ShadowRun.Status.FAILED
    assert run.error.startswith(f"Radiograph {broken.pk} could not be read")


def test_any_error_ends_failed_never_running(admin_user, candidate, stored, monkeypatch):
    from inference.predictor import Predictor

    def boom(self, images):
        raise RuntimeError("interpreter exploded")

    monkeypatch.setattr(Predictor, "predict_images", boom)
    run = services.shadow_run_start(user=admin_user, candidate=candidate, n=3)
    services.shadow_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == ShadowRun.Status.FAILED
    assert run.error == "The run stopped on an error: interpreter exploded"


def test_soft_time_limit_fails_the_run(admin_user, candidate, stored, monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    from inference.predictor import Predictor

    def slow(self, images):
        raise SoftTimeLimitExceeded

    monkeypatch.setattr(Predictor, "predict_images", slow)
    run = services.shadow_run_start(user=admin_user, candidate=candidate, n=3)
    services.shadow_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == ShadowRun.Status.FAILED and "time limit" in run.error


def test_progress_is_stored_after_every_image(admin_user, candidate, stored, monkeypatch):
    from inference.predictor import Predictor

    seen: list[int] = []
    real = Predictor.predict_images

    def watch(self, images):
        seen.append(ShadowRun.objects.get().done)
        return real(self, images)

    monkeypatch.setattr(Predictor, "predict_images", watch)
    run = services.shadow_run_start(user=admin_user, candidate=candidate, n=3)
    services.shadow_run_execute(run_id=run.pk)
    assert seen == [0, 1, 2]


def test_broker_down_fails_the_run_at_once(admin_user, candidate, stored, monkeypatch):
    from kombu.exceptions import OperationalError

    from shadow.tasks import run_shadow

    def down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(run_shadow, "apply_async", down)
    run = services.shadow_run_start(user=admin_user, candidate=candidate, n=3)
    assert services.shadow_run_enqueue(run_id=run.pk) is False
    run.refresh_from_db()
    assert run.status == ShadowRun.Status.FAILED and "task queue could not be reached" in run.error


def test_a_run_whose_worker_was_lost_ends_failed(admin_user, candidate, stored, settings):
    run = services.shadow_run_start(user=admin_user, candidate=candidate, n=3)
    claimed = services.shadow_run_claim(run_id=run.pk)
    limit = settings.FRACTURE_SHADOW_TIME_LIMIT + settings.FRACTURE_STALE_RUN_MARGIN_S
    assert services.shadow_run_fail_stale(now=claimed + datetime.timedelta(seconds=limit - 1)) == 0
    assert services.shadow_run_fail_stale(now=claimed + datetime.timedelta(seconds=limit + 1)) == 1
    run.refresh_from_db()
    assert run.status == ShadowRun.Status.FAILED and "worker stopped" in run.error


def test_beat_schedule_fails_lost_runs(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "shadow.tasks.fail_stale_shadow_runs" in tasks


def test_selection_stops_at_the_cutoff(admin_user, candidate, stored):
    """A prediction finished after the run was started does not change which images it covers."""
    run = services.shadow_run_start(user=admin_user, candidate=candidate, n=1)
    newest = Prediction.objects.filter(status=Prediction.Status.QUEUED).get()
    Prediction.objects.filter(pk=newest.pk).update(
        status="succeeded", label="fractured", probability=0.8, threshold=0.5, model_version="test"
    )
    services.shadow_run_execute(run_id=run.pk)
    assert ShadowPrediction.objects.get(run=run).radiograph_id == stored[-1].radiograph_id


def test_the_active_version_is_refused_and_not_offered(admin_user, candidate, stored):
    from inference.models import ModelActivation
    from shadow.selectors import candidate_versions

    assert candidate in candidate_versions()
    ModelActivation.objects.create(version=candidate, reason="serve it", activated_by=admin_user)
    assert candidate not in candidate_versions()
    with pytest.raises(ValidationError, match="serves clinicians now"):
        services.shadow_run_start(user=admin_user, candidate=candidate, n=5)
    assert not ShadowRun.objects.exists()


def test_the_candidate_is_not_kept_in_memory_after_its_run(admin_user, candidate, stored, settings):
    from inference import predictor

    run = services.shadow_run_start(user=admin_user, candidate=candidate, n=2)
    services.shadow_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == ShadowRun.Status.SUCCEEDED
    assert not [p for p in predictor._cache.values() if p.version == candidate.version]
