"""The shadow run admin: staff only, start needs the add permission, comparison the view one."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from diagnosis.models import AuditEvent
from shadow import services
from shadow.models import ShadowRun
from tests.factories import UserFactory
from tests.shadow.conftest import CANDIDATE, STORED

pytestmark = pytest.mark.django_db

LIST = "/admin/shadow/shadowrun/"
ADD = LIST + "add/"


def staff(*codenames: str):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="shadow", codename__in=codenames))
    return user


@pytest.fixture
def finished_run(candidate, stored):
    run = services.shadow_run_start(user=UserFactory(is_superuser=True), candidate=candidate, n=3)
    services.shadow_run_execute(run_id=run.pk)
    return ShadowRun.objects.get(pk=run.pk)


def urls(run: ShadowRun) -> list[str]:
    return [LIST, ADD, f"{LIST}{run.pk}/change/", f"{LIST}{run.pk}/compare/"]


def test_non_staff_is_sent_to_the_admin_log_in(client, clinician, finished_run):
    client.force_login(clinician)
    for url in urls(finished_run):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), url


def test_staff_without_permission_gets_403(client, finished_run):
    client.force_login(staff())
    for url in urls(finished_run):
        assert client.get(url).status_code == 403, url
    assert client.post(ADD, {"candidate": CANDIDATE, "n": 3}).status_code == 403
    assert ShadowRun.objects.count() == 1


def test_view_permission_shows_progress_and_comparison_but_cannot_start(client, finished_run):
    client.force_login(staff("view_shadowrun"))
    listing = client.get(LIST)
    assert listing.status_code == 200 and b"3/3" in listing.content
    assert f"{LIST}{finished_run.pk}/compare/".encode() in listing.content
    assert client.get(ADD).status_code == 403
    page = client.get(f"{LIST}{finished_run.pk}/compare/")
    assert page.status_code == 200
    result = page.context["result"]
    assert (result.images, result.with_read, result.positives, result.negatives, result.unread) == (3, 2, 1, 1, 1)
    assert result.reference_versions == [(STORED, 3)]
    assert [p.point for p in result.points] == ["balanced", "high_sensitivity"]
    assert b"AUROC" in page.content and b"Badges that would flip" in page.content
    assert b"Emergency" in page.content  # per team
    assert b"Patient" not in page.content and b"MRN" not in page.content  # figures only


def test_start_form_offers_other_versions_and_queues_an_audited_run(
    client, candidate, stored, shadow_sent, django_capture_on_commit_callbacks
):
    user = staff("view_shadowrun", "add_shadowrun")
    client.force_login(user)
    form = client.get(ADD)
    assert form.status_code == 200
    offered = [choice.value for choice, _ in list(form.context["form"].fields["candidate"].choices)[1:]]
    assert offered == [CANDIDATE]  # STORED made the latest predictions
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(ADD, {"candidate": CANDIDATE, "n": 2})
    assert response.status_code == 302 and response["Location"] == LIST
    run = ShadowRun.objects.get()
    assert (run.candidate.version, run.n_requested, run.requested_by) == (CANDIDATE, 2, user)
    assert len(shadow_sent) == 1
    assert AuditEvent.objects.filter(action="create", object_type="shadowrun", actor=user).count() == 1


def test_start_form_rejects_bad_input_without_a_run(client, candidate, stored):
    client.force_login(staff("view_shadowrun", "add_shadowrun"))
    for data in ({"candidate": STORED, "n": 2}, {"candidate": CANDIDATE, "n": 0}, {"candidate": CANDIDATE, "n": "x"}):
        response = client.post(ADD, data)
        assert response.status_code == 200 and response.context["form"].errors, data
    assert not ShadowRun.objects.exists()


def test_runs_cannot_be_changed_or_deleted(client, finished_run):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get(f"{LIST}{finished_run.pk}/change/")
    assert page.status_code == 200 and b'name="n_requested"' not in page.content
    assert client.post(f"{LIST}{finished_run.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ShadowRun.objects.filter(pk=finished_run.pk).exists()


def test_list_refreshes_while_a_run_is_pending(client, candidate, stored):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    services.shadow_run_start(user=UserFactory(), candidate=candidate, n=1)
    assert b'http-equiv="refresh"' in client.get(LIST).content


def test_comparison_of_an_unknown_run_is_404(client, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert client.get(f"{LIST}999/compare/").status_code == 404
