"""The audit trail: every security-relevant action leaves one row, and no one can rewrite a row."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from rest_framework.test import APIClient

from diagnosis import services
from diagnosis.audit import audit_record
from diagnosis.models import AppendOnly, AuditAction, AuditEvent
from tests.factories import CaseFactory, UserFactory
from tests.web.test_images import jpeg_with_metadata

pytestmark = pytest.mark.django_db

A = AuditAction


def _actions(*, exclude: tuple[str, ...] = ()) -> list[tuple[str, str, str]]:
    """The trail so far, oldest first, without ``exclude`` actions (``force_login`` records a log-in)."""
    events = AuditEvent.objects.exclude(action__in=exclude).order_by("id")
    return list(events.values_list("action", "actor_username", "object_type"))


@pytest.fixture
def event(clinician) -> AuditEvent:
    return audit_record(actor=clinician, action=A.LOGIN)


@pytest.fixture
def superuser_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


# Append-only ---------------------------------------------------------------------------------


def test_recording_costs_one_insert(clinician, victim, rf, django_assert_num_queries):
    request = rf.get("/patients/1/", HTTP_USER_AGENT="pytest", REMOTE_ADDR="10.1.2.3")
    with django_assert_num_queries(1):
        event = audit_record(actor=clinician, action=A.VIEW_CASE, obj=victim.case, request=request)
    event.refresh_from_db()
    assert (event.actor, event.actor_username, event.team) == (clinician, "dr_ada", victim.case.team)
    assert (event.object_type, event.object_id) == ("case", str(victim.case.pk))
    assert (event.ip_address, event.user_agent, event.path) == ("10.1.2.3", "pytest", "/patients/1/")


def test_an_event_cannot_be_changed_or_deleted_through_the_orm(event):
    event.action = A.LOGOUT
    with pytest.raises(AppendOnly):
        event.save()
    with pytest.raises(AppendOnly):
        event.delete()
    with pytest.raises(AppendOnly):
        AuditEvent.objects.filter(pk=event.pk).update(action=A.LOGOUT)
    with pytest.raises(AppendOnly):
        AuditEvent.objects.all().delete()
    with pytest.raises(AppendOnly):
        AuditEvent.objects.bulk_update([event], ["action"])
    # A fresh instance carrying an existing id must not overwrite that row.
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent(pk=event.pk, action=A.LOGOUT).save()
    assert AuditEvent.objects.get().action == A.LOGIN


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL only")
def test_the_database_refuses_update_and_delete_but_allows_user_removal(event, clinician):
    from django.db import DatabaseError

    for sql in ("UPDATE diagnosis_auditevent SET action = 'logout'", "DELETE FROM diagnosis_auditevent"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql)
    clinician.delete()  # ON DELETE SET NULL is the one permitted change; the username snapshot stays
    row = AuditEvent.objects.get()
    assert (row.actor_id, row.actor_username, row.action) == (None, "dr_ada", A.LOGIN)


# What is recorded ----------------------------------------------------------------------------


def test_web_login_failed_login_and_logout(client, clinician):
    login = reverse("login")
    client.post(login, {"username": "dr_ada", "password": "wrong"}, REMOTE_ADDR="10.0.0.7")
    client.post(login, {"username": "dr_ada", "password": "correct horse battery"}, REMOTE_ADDR="10.0.0.7")
    client.post(reverse("logout"))
    assert _actions() == [(A.LOGIN_FAILED, "dr_ada", ""), (A.LOGIN, "dr_ada", ""), (A.LOGOUT, "dr_ada", "")]
    failed = AuditEvent.objects.get(action=A.LOGIN_FAILED)
    assert (failed.actor, failed.ip_address, failed.path) == (None, "10.0.0.7", login)
    assert "wrong" not in str(failed.extra)  # the attempted password is never stored


def test_api_token_login_and_failure(clinician):
    client = APIClient()
    client.post("/api/v1/auth/token/", {"username": "dr_ada", "password": "nope"}, format="json")
    client.post("/api/v1/auth/token/", {"username": "dr_ada", "password": "correct horse battery"}, format="json")
    assert _actions() == [(A.LOGIN_FAILED, "dr_ada", ""), (A.LOGIN, "dr_ada", "")]
    assert AuditEvent.objects.get(action=A.LOGIN).extra == {"via": "api-token"}


def test_viewing_records_on_pages_and_api(clinician_client, api_client, victim):
    for url in [
        reverse("diagnosis:patient-detail", args=[victim.patient.pk]),
        reverse("diagnosis:case-detail", args=[victim.case.pk]),
        reverse("diagnosis:radiograph-detail", args=[victim.radiograph.pk]),
        reverse("diagnosis:radiograph-image", args=[victim.radiograph.pk]),
        reverse("diagnosis:radiograph-image", args=[victim.radiograph.pk]) + "?thumb=1",  # not recorded
    ]:
        assert clinician_client.get(url).status_code == 200, url
    for url in [
        f"/api/v1/patients/{victim.patient.pk}/",
        f"/api/v1/cases/{victim.case.pk}/",
        f"/api/v1/predictions/{victim.prediction.pk}/",
    ]:
        assert api_client.get(url).status_code == 200, url
    assert [(action, kind) for action, _, kind in _actions(exclude=(A.LOGIN,))] == [
        (A.VIEW_PATIENT, "patient"),
        (A.VIEW_CASE, "case"),
        (A.VIEW_RADIOGRAPH, "radiograph"),
        (A.VIEW_IMAGE, "radiograph"),
        (A.VIEW_PATIENT, "patient"),
        (A.VIEW_CASE, "case"),
        (A.VIEW_PREDICTION, "prediction"),
    ]
    views = AuditEvent.objects.exclude(action=A.LOGIN)
    assert set(views.values_list("team", flat=True)) == {victim.case.team_id}


def test_a_refused_view_records_nothing(client, outsider, victim):
    client.force_login(outsider)
    assert client.get(reverse("diagnosis:patient-detail", args=[victim.patient.pk])).status_code == 404
    assert _actions() == [(A.LOGIN, "dr_other", "")]


def test_creates_edits_and_uploads_carry_request_origin(api_client, clinician_client, victim):
    api_client.patch(f"/api/v1/patients/{victim.patient.pk}/", {"name": "V. Victim"}, format="json",
                     REMOTE_ADDR="10.9.9.9", HTTP_USER_AGENT="integrator/1.0")  # fmt: skip
    edit = reverse("diagnosis:case-edit", args=[victim.case.pk])
    clinician_client.post(edit, {"body_region": "hip", "clinical_question": "Fall", "status": "open"})
    upload = SimpleUploadedFile("wrist.jpg", jpeg_with_metadata())
    api_client.post(f"/api/v1/cases/{victim.case.pk}/radiographs/", {"image": upload}, format="multipart")
    patient_edit, case_edit, uploaded = AuditEvent.objects.exclude(action=A.LOGIN).order_by("id")
    assert (patient_edit.action, patient_edit.extra) == (A.EDIT, {"fields": ["name"]})
    assert (patient_edit.ip_address, patient_edit.user_agent) == ("10.9.9.9", "integrator/1.0")
    assert patient_edit.path == f"/api/v1/patients/{victim.patient.pk}/"
    assert (case_edit.action, case_edit.object_type, case_edit.path) == (A.EDIT, "case", edit)
    assert set(case_edit.extra["fields"]) == {"body_region", "clinical_question", "status"}
    assert (uploaded.action, uploaded.object_type, uploaded.actor_username) == (A.UPLOAD, "radiograph", "dr_ada")
    assert uploaded.path.endswith("/radiographs/") and len(uploaded.extra["sha256"]) == 64


def test_finished_prediction_is_recorded_for_the_worker(victim, no_model):
    from diagnosis.models import Prediction

    queued = Prediction.objects.create(radiograph=victim.radiograph)
    services.prediction_run(prediction_id=queued.pk)
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.actor_username) == (A.PREDICTION_FINISHED, None, "worker")
    assert (event.object_id, event.extra["status"], event.team_id) == (str(queued.pk), "failed", victim.case.team_id)


def test_admin_changes_are_recorded_including_bulk_deletes(superuser_client, victim):
    change = reverse("admin:diagnosis_patient_change", args=[victim.patient.pk])
    form = {"mrn": victim.patient.mrn, "name": "Renamed", "date_of_birth": "1970-01-01", "sex": "female",
            "team": victim.patient.team_id}  # fmt: skip
    assert superuser_client.post(change, form).status_code == 302
    doomed = UserFactory.create_batch(2)
    data = {"action": "delete_selected", "post": "yes", "_selected_action": [u.pk for u in doomed]}
    assert superuser_client.post(reverse("admin:auth_user_changelist"), data).status_code == 302
    changes = AuditEvent.objects.filter(action=A.ADMIN_CHANGE).order_by("id")
    assert [(e.object_type, e.actor_username) for e in changes] == [
        ("patient", "root"),
        ("user", "root"),
        ("user", "root"),
    ]
    assert changes[0].description == "Change: Renamed (VICTIM-0001)" and "name" in changes[0].extra["change"].lower()
    assert {e.object_id for e in changes[1:]} == {str(u.pk) for u in doomed}


# Admin: read-only, filters, export -----------------------------------------------------------


def test_superusers_can_read_but_not_add_change_or_delete(superuser_client, event):
    audit_record(actor=None, action=A.VIEW_CASE, obj=CaseFactory())  # a team to filter by
    changelist = reverse("admin:diagnosis_auditevent_changelist")
    listing = superuser_client.get(changelist, {"action__exact": "login", "actor__id__exact": event.actor_id})
    assert listing.status_code == 200 and list(listing.context["cl"].result_list) == [event]
    assert {f.title for f in listing.context["cl"].filter_specs} >= {"action", "timestamp", "team", "actor"}
    actions = [name for name, _ in listing.context["action_form"].fields["action"].choices]
    assert "export_csv" in actions and "delete_selected" not in actions
    change = reverse("admin:diagnosis_auditevent_change", args=[event.pk])
    page = superuser_client.get(change)
    assert page.status_code == 200 and b'name="action"' not in page.content  # read-only page
    assert superuser_client.post(change, {"action": "logout"}).status_code == 403
    assert superuser_client.get(reverse("admin:diagnosis_auditevent_add")).status_code == 403
    delete = reverse("admin:diagnosis_auditevent_delete", args=[event.pk])
    assert superuser_client.post(delete, {"post": "yes"}).status_code == 403
    bulk = {"action": "delete_selected", "post": "yes", "_selected_action": [event.pk]}
    superuser_client.post(changelist, bulk)
    event.refresh_from_db()
    assert event.action == A.LOGIN and AuditEvent.objects.filter(pk=event.pk).exists()


def test_only_staff_with_the_view_permission_see_the_log_and_only_their_teams(client, team, victim, event):
    mine = audit_record(actor=None, action=A.VIEW_CASE, obj=victim.case)
    other_team = audit_record(actor=None, action=A.VIEW_CASE, obj=CaseFactory())
    changelist = reverse("admin:diagnosis_auditevent_changelist")
    staff = UserFactory(is_staff=True, teams=[team])
    client.force_login(staff)
    assert client.get(changelist).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    staff = User.objects.get(pk=staff.pk)  # drop the cached permissions
    client.force_login(staff)
    rows = list(client.get(changelist).context["cl"].result_list)
    assert mine in rows and other_team not in rows and event not in rows
    client.force_login(UserFactory(teams=[team]))  # not staff
    assert client.get(changelist).status_code == 302


def test_csv_export_is_audited_neutralises_formulas_and_carries_no_image_metadata(superuser_client, api_client, victim):
    upload = SimpleUploadedFile("=HYPERLINK(evil).jpg", jpeg_with_metadata())
    api_client.post(f"/api/v1/cases/{victim.case.pk}/radiographs/", {"image": upload}, format="multipart")
    audit_record(actor=None, action=A.LOGIN_FAILED, actor_name="@SUM(1+1)")
    ids = list(AuditEvent.objects.exclude(action=A.LOGIN).values_list("pk", flat=True))
    response = superuser_client.post(
        reverse("admin:diagnosis_auditevent_changelist"), {"action": "export_csv", "_selected_action": ids}
    )
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 2
    assert rows[0]["action"] == "upload" and "'=HYPERLINK" not in rows[0]["description"]
    assert rows[1]["actor_username"] == "'@SUM(1+1)"
    for secret in ("Dr Jane Secret", "John Doe", "2024:01:02", "Exif"):
        assert secret not in text
    export = AuditEvent.objects.get(action=A.EXPORT)
    assert (export.actor_username, export.extra) == ("root", {"rows": 2})


def test_no_api_route_exposes_the_audit_log(api_client, event):
    from diagnosis.api.urls import router

    assert all(viewset.queryset.model is not AuditEvent for _, viewset, _ in router.registry)
    for method in ("get", "patch", "put", "delete"):
        assert getattr(api_client, method)(f"/api/v1/audit-events/{event.pk}/").status_code == 404
    event.refresh_from_db()
    assert event.action == A.LOGIN
