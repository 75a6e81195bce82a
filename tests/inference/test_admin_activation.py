"""Admin: versions with metrics, use and periods; activation and roll-back (staff with the permission)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from diagnosis.models import AuditAction, AuditEvent
from inference.models import ModelActivation, ModelVersion
from inference.services import model_version_activate
from tests.factories import PredictionFactory, UserFactory

pytestmark = pytest.mark.django_db

LIST = "/admin/inference/modelversion/"


@pytest.fixture
def versions(register):
    a, b = register("tiny-a"), register("tiny-b")
    ModelVersion.objects.filter(pk=b.pk).update(metrics={"cross_validation": {"auroc": 0.8781}, "test": {"auroc": 0.8}})
    return a, b


@pytest.fixture
def admin_client(client, activator):
    client.force_login(activator)
    return client


def test_the_list_shows_metrics_use_status_and_periods(admin_client, versions, activator):
    a, _ = versions
    model_version_activate(version=a, user=activator, reason="initial")
    for _ in range(3):
        PredictionFactory(fractured=True, model_version="tiny-a")
    html = admin_client.get(LIST).content.decode()
    assert "0.878 (CV)" in html and "0.800" in html
    row_a = html[html.index(">tiny-a</a>") :]
    row_a = row_a[: row_a.index("</tr>")]
    assert ">3<" in row_a and "active" in row_a and "now" in row_a
    row_b = html[html.index(">tiny-b</a>") :]
    row_b = row_b[: row_b.index("</tr>")]
    assert "candidate" in row_b and "never" in row_b and "Activate" in row_b
    assert "Served: <strong>tiny-a</strong>" in html


def test_activate_page_asks_for_a_reason_then_activates(admin_client, versions, activator):
    a, b = versions
    first = model_version_activate(version=a, user=activator, reason="initial")
    url = f"{LIST}{b.pk}/activate/"
    page = admin_client.get(url)
    assert page.status_code == 200 and b"Reason" in page.content and b"cannot be served" not in page.content
    blank = admin_client.post(url, {"reason": "", "expected_active": first.pk})
    assert blank.status_code == 200 and ModelActivation.objects.count() == 1
    done = admin_client.post(url, {"reason": "better on the audit set", "expected_active": first.pk})
    assert done.status_code == 302
    newest = ModelActivation.objects.newest()
    assert (newest.version, newest.activated_by, newest.reason) == (b, activator, "better on the audit set")
    assert AuditEvent.objects.filter(action=AuditAction.MODEL_ACTIVATION, actor=activator).count() == 2


def test_a_stale_activate_page_changes_nothing(admin_client, versions, activator):
    a, b = versions
    shown = model_version_activate(version=a, user=activator, reason="initial")
    url = f"{LIST}{b.pk}/activate/"
    page = admin_client.get(url)
    assert f'value="{shown.pk}"' in page.content.decode()
    other = UserFactory(username="other_admin", is_staff=True, is_superuser=True)
    model_version_activate(version=b, user=other, reason="someone else, meanwhile")
    response = admin_client.post(f"{LIST}{a.pk}/activate/", {"reason": "mine", "expected_active": shown.pk})
    assert response.status_code == 200 and b"while this page was open" in response.content
    assert ModelActivation.objects.count() == 2 and ModelActivation.objects.newest().version == b


def test_an_unloadable_version_shows_why_and_is_not_activated(admin_client, versions, models_root):
    a, _ = versions
    (models_root / "tiny-a" / "model.tflite").unlink()
    url = f"{LIST}{a.pk}/activate/"
    assert b"cannot be served" in admin_client.get(url).content
    response = admin_client.post(url, {"reason": "r", "expected_active": ""})
    assert response.status_code == 200 and b"was not activated" in response.content
    assert not ModelActivation.objects.exists()


def test_roll_back_is_one_confirmed_action(admin_client, versions, activator):
    a, b = versions
    model_version_activate(version=a, user=activator, reason="initial")
    second = model_version_activate(version=b, user=activator, reason="new")
    listing = admin_client.get(LIST).content.decode()
    assert "Roll back to tiny-a" in listing
    page = admin_client.get(f"{LIST}rollback/").content.decode()
    assert "Roll back from tiny-b to tiny-a" in page  # the reason, filled in and editable
    response = admin_client.post(
        f"{LIST}rollback/", {"reason": "Roll back from tiny-b to tiny-a", "expected_active": second.pk}
    )
    assert response.status_code == 302
    newest = ModelActivation.objects.newest()
    assert (newest.version, newest.is_rollback, newest.previous) == (a, True, second)
    assert AuditEvent.objects.filter(action=AuditAction.MODEL_ROLLBACK).count() == 1


def test_nothing_to_roll_back_to_says_so(admin_client, versions):
    response = admin_client.get(f"{LIST}rollback/", follow=True)
    assert b"no earlier activation" in response.content and not ModelActivation.objects.exists()


def test_staff_without_the_permission_get_403_and_no_buttons(client, versions, activator):
    a, b = versions
    current = model_version_activate(version=a, user=activator, reason="initial")
    model_version_activate(version=b, user=activator, reason="new")
    viewer = UserFactory(username="auditor", is_staff=True)
    viewer.user_permissions.add(
        Permission.objects.get(content_type__app_label="inference", codename="view_modelversion")
    )
    client.force_login(viewer)
    listing = client.get(LIST)
    assert listing.status_code == 200 and b"Activate" not in listing.content and b"Roll back" not in listing.content
    assert client.get(f"{LIST}{a.pk}/activate/").status_code == 403
    assert client.post(f"{LIST}{a.pk}/activate/", {"reason": "r", "expected_active": current.pk}).status_code == 403
    assert client.post(f"{LIST}rollback/", {"reason": "r"}).status_code == 403
    assert ModelActivation.objects.newest().version == b


def test_clinicians_cannot_reach_the_pages(clinician_client, versions):
    a, _ = versions
    response = clinician_client.get(f"{LIST}{a.pk}/activate/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not ModelActivation.objects.exists()


def test_the_activation_history_is_listed_read_only(admin_client, versions, activator):
    a, _ = versions
    model_version_activate(version=a, user=activator, reason="initial for the ward")
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True)
    admin_client.force_login(superuser)
    response = admin_client.get("/admin/inference/modelactivation/")
    assert response.status_code == 200 and b"initial for the ward" in response.content
    activation = ModelActivation.objects.get()
    assert (
        admin_client.post(f"/admin/inference/modelactivation/{activation.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert ModelActivation.objects.count() == 1
