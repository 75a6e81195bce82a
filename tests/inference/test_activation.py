"""Activation: one active version (who/when/why), candidates never serve, workers re-check cheaply."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import DatabaseError

from diagnosis.models import AuditAction, AuditEvent, Prediction
from diagnosis.services import prediction_run
from fracture_site.appendonly import AppendOnly
from inference import registry
from inference.errors import ModelUnavailable
from inference.models import ModelActivation
from inference.predictor import get_predictor
from inference.registry import forget_served_version, served_version_dir
from inference.services import (
    INITIAL_REASON,
    model_version_activate,
    model_version_problem,
    model_version_rollback,
)
from tests.factories import PredictionFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_activation_records_who_when_why_and_what_it_replaced(register, activator):
    a, b = register("tiny-a"), register("tiny-b")
    first = model_version_activate(version=a, user=activator, reason="validated on the local audit set")
    second = model_version_activate(version=b, user=activator, reason="better test AUROC", expected_active=first)
    assert (second.version, second.activated_by, second.reason, second.previous) == (
        b,
        activator,
        "better test AUROC",
        first,
    )
    assert second.activated_at >= first.activated_at and not second.is_rollback
    assert ModelActivation.objects.newest() == second
    assert b.is_active and not a.is_active


def test_activations_are_append_only(register, activator):
    activation = model_version_activate(version=register("tiny-a"), user=activator, reason="first")
    activation.reason = "rewritten"
    with pytest.raises(AppendOnly):
        activation.save()
    with pytest.raises(AppendOnly):
        activation.delete()
    with pytest.raises(AppendOnly):
        ModelActivation.objects.filter(pk=activation.pk).update(reason="rewritten")
    with pytest.raises(AppendOnly):
        ModelActivation.objects.all().delete()
    assert ModelActivation.objects.get().reason == "first"


def test_a_candidate_never_serves(register, activator, clock):
    model_version_activate(version=register("tiny-a"), user=activator, reason="initial")
    assert served_version_dir().name == "tiny-a"
    register("tiny-b")  # what `retrain` does with a new, newer version
    clock[0] += 3600
    assert served_version_dir().name == "tiny-a"
    prediction = PredictionFactory()
    prediction_run(prediction_id=prediction.pk)
    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.SUCCEEDED
    assert (prediction.model_version, prediction.threshold_name, prediction.threshold) == ("tiny-a", "balanced", 0.5)


def test_served_version_follows_an_activation_at_the_next_recheck_only(
    register, activator, clock, settings, django_assert_num_queries
):
    settings.FRACTURE_ACTIVE_RECHECK_S = 30
    a, b = register("tiny-a"), register("tiny-b")
    first = model_version_activate(version=a, user=activator, reason="initial")
    assert get_predictor().version == "tiny-a"
    model_version_activate(version=b, user=activator, reason="switch", expected_active=first)
    clock[0] += 29
    with django_assert_num_queries(0):  # never per task: within the interval nothing is read
        assert get_predictor().version == "tiny-a"
    clock[0] += 1
    assert get_predictor().version == "tiny-b"
    assert served_version_dir().name == "tiny-b"


def test_the_recheck_is_one_query(register, activator, clock):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    model_version_activate(version=register("tiny-a"), user=activator, reason="initial")
    served_version_dir()
    clock[0] += 60
    with CaptureQueriesContext(connection) as queries:
        served_version_dir()
    selects = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1 and "inference_modelactivation" in selects[0]


def test_no_activation_serves_nothing_and_an_override_wins(register, activator, settings, clock):
    register("tiny-a")
    register("tiny-b")  # the newest folder: a candidate until activated
    with pytest.raises(ModelUnavailable, match="no model version is activated"):
        served_version_dir()
    model_version_activate(version=registry_version("tiny-a"), user=activator, reason="r")
    clock[0] += 3600
    assert served_version_dir().name == "tiny-a"
    settings.FRACTURE_MODEL = "tiny-b"  # one process's override (tests, `classify --model`)
    assert served_version_dir().name == "tiny-b"


def test_a_missing_activated_folder_is_looked_for_again(register, activator, clock, settings):
    version = register("tiny-a")
    model_version_activate(version=version, user=activator, reason="r")
    hidden = settings.FRACTURE_MODELS_DIR / "tiny-a"
    hidden.rename(settings.FRACTURE_MODELS_DIR / ".away")  # not yet copied to this worker's machine
    forget_served_version()
    with pytest.raises(ModelUnavailable, match="not found"):
        served_version_dir()
    (settings.FRACTURE_MODELS_DIR / ".away").rename(hidden)
    clock[0] += 3600
    assert served_version_dir().name == "tiny-a"


def registry_version(name):
    from inference.models import ModelVersion

    return ModelVersion.objects.get(version=name)


def test_an_unreachable_database_keeps_the_version_served(register, activator, clock, monkeypatch):
    model_version_activate(version=register("tiny-a"), user=activator, reason="initial")
    assert served_version_dir().name == "tiny-a"

    def down():
        raise DatabaseError("connection refused")

    monkeypatch.setattr(registry, "active_version_name", down)
    clock[0] += 3600
    assert served_version_dir().name == "tiny-a"  # not the newer candidate tiny-b


def test_no_database_at_all_serves_the_newest_folder(models_root, monkeypatch):
    def down():
        raise DatabaseError("no such table")

    monkeypatch.setattr(registry, "active_version_name", down)
    assert served_version_dir().name == "tiny-b"


def test_an_unloadable_version_is_refused_and_nothing_is_written(register, activator, models_root):
    a = register("tiny-a")
    tflite = models_root / "tiny-a" / "model.tflite"
    data = bytearray(tflite.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tflite.write_bytes(bytes(data))
    assert "SHA-256" in model_version_problem(a)
    with pytest.raises(ValidationError, match=r"cannot be served, so it was not activated.*SHA-256"):
        model_version_activate(version=a, user=activator, reason="r")
    (models_root / "tiny-b" / "model.tflite").unlink()
    with pytest.raises(ValidationError, match="missing"):
        model_version_activate(version=register("tiny-b"), user=activator, reason="r")
    assert not ModelActivation.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.MODEL_ACTIVATION).exists()


def test_a_serving_file_litert_cannot_load_is_refused(register, activator, models_root):
    import hashlib
    import json

    folder = models_root / "tiny-a"
    junk = b"1234TFL3" + b"\0" * 64  # looks like a flatbuffer, is not a model
    (folder / "model.tflite").write_bytes(junk)
    card = json.loads((folder / "card.json").read_text())
    card["serving_file_sha256"] = hashlib.sha256(junk).hexdigest()
    (folder / "card.json").write_text(json.dumps(card))
    with pytest.raises(ValidationError, match="cannot be loaded"):
        model_version_activate(version=register("tiny-a"), user=activator, reason="r")
    assert not ModelActivation.objects.exists()


def test_reason_is_required_and_an_active_version_is_not_activated_twice(register, activator):
    a = register("tiny-a")
    with pytest.raises(ValidationError, match="Say why"):
        model_version_activate(version=a, user=activator, reason="   ")
    model_version_activate(version=a, user=activator, reason="r")
    with pytest.raises(ValidationError, match="already the active version"):
        model_version_activate(version=a, user=activator, reason="again")
    assert ModelActivation.objects.count() == 1


def test_a_stale_page_does_not_replace_a_version_it_never_showed(register, activator):
    a, b = register("tiny-a"), register("tiny-b")
    # Two administrators open the page while nothing is active; the first one activates a.
    model_version_activate(version=a, user=activator, reason="first", expected_active=None)
    with pytest.raises(ValidationError, match="changed to tiny-a while this page was open"):
        model_version_activate(version=b, user=activator, reason="second", expected_active=None)
    assert list(ModelActivation.objects.values_list("version__version", flat=True)) == ["tiny-a"]


def test_rollback_activates_the_previous_version_again(register, activator, clock):
    a, b = register("tiny-a"), register("tiny-b")
    with pytest.raises(ValidationError, match="no earlier activation"):
        model_version_rollback(user=activator, reason="nothing yet")
    first = model_version_activate(version=a, user=activator, reason="initial")
    second = model_version_activate(version=b, user=activator, reason="new model")
    assert served_version_dir().name == "tiny-b"
    back = model_version_rollback(user=activator, reason="more false negatives on the ward")
    assert (back.version, back.is_rollback, back.previous) == (a, True, second)
    assert first.version == back.version and a.is_active
    clock[0] += 3600
    assert served_version_dir().name == "tiny-a"
    with pytest.raises(ValidationError, match="changed"):  # a rollback from a page showing an older state
        model_version_rollback(user=activator, reason="again", expected_active=second)


def test_each_activation_and_rollback_is_in_the_audit_trail(register, activator):
    a, b = register("tiny-a"), register("tiny-b")
    model_version_activate(version=a, user=activator, reason="initial")
    model_version_activate(version=b, user=activator, reason="new model")
    rollback = model_version_rollback(user=activator, reason="regression")
    events = list(AuditEvent.objects.filter(object_type="modelactivation").order_by("pk"))
    assert [e.action for e in events] == [
        AuditAction.MODEL_ACTIVATION,
        AuditAction.MODEL_ACTIVATION,
        AuditAction.MODEL_ROLLBACK,
    ]
    assert [e.description for e in events] == ["none -> tiny-a", "tiny-a -> tiny-b", "tiny-b -> tiny-a"]
    last = events[-1]
    assert (last.actor, last.actor_username, last.object_id) == (activator, "ml_admin", str(rollback.pk))
    assert last.extra == {"version": "tiny-a", "previous_version": "tiny-b", "reason": "regression"}


def test_an_activation_that_cannot_be_audited_does_not_happen(register, activator, monkeypatch):
    import diagnosis.audit

    def broken(**kwargs):
        raise DatabaseError("audit table unavailable")

    monkeypatch.setattr(diagnosis.audit, "audit_record", broken)
    with pytest.raises(DatabaseError):
        model_version_activate(version=register("tiny-a"), user=activator, reason="r")
    assert not ModelActivation.objects.exists()


@pytest.mark.parametrize(
    "kind",
    ["clinician", "staff without the permission", "permission without staff status", "inactive"],
)
def test_only_staff_with_the_permission_may_activate(register, kind):
    from django.contrib.auth.models import Permission

    perm = Permission.objects.get(content_type__app_label="inference", codename="activate_modelversion")
    user = UserFactory(username="u", is_staff=kind != "permission without staff status" and kind != "clinician")
    if kind in ("permission without staff status", "inactive"):
        user.user_permissions.add(perm)
    if kind == "inactive":
        user.is_active = False
        user.save()
    with pytest.raises(PermissionDenied):
        model_version_activate(version=register("tiny-a"), user=user, reason="r")
    assert not ModelActivation.objects.exists()


def test_a_superuser_may_activate(register):
    user = UserFactory(username="root", is_staff=True, is_superuser=True)
    assert model_version_activate(version=register("tiny-a"), user=user, reason="r").activated_by == user


def test_a_fresh_install_activates_the_newest_shipped_version_once(models_root, activator):
    call_command("register_models")
    activation = ModelActivation.objects.get()
    assert (activation.version.version, activation.activated_by, activation.reason) == (
        "tiny-b",
        None,
        INITIAL_REASON,
    )
    event = AuditEvent.objects.get(action=AuditAction.MODEL_ACTIVATION)
    assert (event.actor, event.actor_username) == (None, "system")
    call_command("register_models")
    assert ModelActivation.objects.count() == 1


def test_register_models_leaves_what_is_active_alone(models_root, activator, two_versions_root):
    from datetime import UTC, datetime

    from inference.models import ModelVersion
    from tests.inference.conftest import copy_version

    call_command("register_models")
    a = ModelVersion.objects.get(version="tiny-a")
    model_version_activate(version=a, user=activator, reason="older is better here")
    copy_version(two_versions_root / "tiny-b", models_root, "tiny-c", created_at=datetime(2027, 1, 1, tzinfo=UTC))
    call_command("register_models")
    assert ModelVersion.objects.get(version="tiny-c").activations.count() == 0
    assert ModelActivation.objects.newest().version == a
