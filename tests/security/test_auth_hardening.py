"""Log-in lockout, API throttling, CSRF, production transport settings and password rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from diagnosis.models import AuditAction, AuditEvent
from tests.factories import CaseFactory, PatientFactory, image_bytes

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"


@pytest.fixture
def tiny_rates(monkeypatch):
    """DRF reads its rates once, into a class attribute: patch that, not the settings."""
    monkeypatch.setattr(
        SimpleRateThrottle, "THROTTLE_RATES", {"anon": "3/minute", "user": "4/minute", "uploads": "2/minute"}
    )


# Lockout (django-axes) ----------------------------------------------------------------------


def test_web_login_locks_out_after_repeated_failures_even_with_the_right_password(client, clinician, settings):
    login = reverse("login")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert client.post(login, {"username": "dr_ada", "password": "wrong"}).status_code == 200
    locked = client.post(login, {"username": "dr_ada", "password": "wrong"})
    assert locked.status_code == 429 and b"Too many failed log-ins" in locked.content
    right = client.post(login, {"username": "dr_ada", "password": PASSWORD})
    assert right.status_code == 429 and "_auth_user_id" not in client.session
    assert client.get(reverse("diagnosis:worklist")).status_code == 302  # still not logged in
    failures = AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, actor_username="dr_ada").count()
    assert failures >= settings.AXES_FAILURE_LIMIT


def test_lockout_is_per_user_and_address(client, clinician, settings):
    login = reverse("login")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(login, {"username": "dr_ada", "password": "wrong"}, REMOTE_ADDR="10.0.0.1")
    elsewhere = client.post(login, {"username": "dr_ada", "password": PASSWORD}, REMOTE_ADDR="10.0.0.2")
    assert elsewhere.status_code == 302  # a guessing address does not lock the clinician out everywhere


def test_api_token_login_is_locked_out_too(clinician, settings):
    client = APIClient()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/api/v1/auth/token/", {"username": "dr_ada", "password": "wrong"}, format="json")
    right = client.post("/api/v1/auth/token/", {"username": "dr_ada", "password": PASSWORD}, format="json")
    assert right.status_code in (400, 403, 429) and "token" not in right.json()


# API throttling -----------------------------------------------------------------------------


def test_token_endpoint_is_throttled_per_address(clinician, tiny_rates):
    client = APIClient()
    codes = [
        client.post("/api/v1/auth/token/", {"username": "nobody", "password": "x"}, format="json").status_code
        for _ in range(4)
    ]
    assert codes == [400, 400, 400, 429]


def test_authenticated_api_calls_are_throttled_per_user(api_client, tiny_rates):
    codes = [api_client.get("/api/v1/patients/").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 200, 429]
    refused = api_client.get("/api/v1/patients/")
    assert "detail" in refused.json() and int(refused["Retry-After"]) > 0


def test_uploads_have_their_own_tighter_rate(api_client, team, tiny_rates):
    case = CaseFactory(team=team)

    def upload(variant: int) -> int:
        image = SimpleUploadedFile("x.png", image_bytes(variant=variant), content_type="image/png")
        return api_client.post(f"/api/v1/cases/{case.pk}/radiographs/", {"image": image}).status_code

    assert [upload(1), upload(2), upload(3)] == [202, 202, 429]


# CSRF ----------------------------------------------------------------------------------------


def test_every_web_form_refuses_a_post_without_csrf_token(clinician, team):
    case = CaseFactory(team=team)
    patient = case.patient
    client = Client(enforce_csrf_checks=True)
    client.force_login(clinician)
    forms = {
        reverse("diagnosis:patient-create"): {"mrn": "C1", "name": "x", "date_of_birth": "1970-01-01"},
        reverse("diagnosis:patient-edit", args=[patient.pk]): {"name": "x"},
        reverse("diagnosis:case-create", args=[patient.pk]): {"body_region": "hip"},
        reverse("diagnosis:case-edit", args=[case.pk]): {"body_region": "hip", "status": "open"},
        reverse("diagnosis:case-upload", args=[case.pk]): {"image": SimpleUploadedFile("x.png", image_bytes())},
        reverse("logout"): {},
        reverse("admin:logout"): {},
    }
    for url, data in forms.items():
        assert client.post(url, data).status_code == 403, url
    assert (
        Client(enforce_csrf_checks=True)
        .post(reverse("login"), {"username": "dr_ada", "password": PASSWORD})
        .status_code
        == 403
    )


def test_session_authenticated_api_writes_need_the_csrf_token(clinician, team):
    patient = PatientFactory(team=team)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(clinician)
    url = f"/api/v1/patients/{patient.pk}/"
    refused = client.patch(url, {"name": "x"}, format="json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    client.get(reverse("diagnosis:case-detail", args=[CaseFactory(team=team, patient=patient).pk]))  # sets the cookie
    token = client.cookies["csrftoken"].value
    assert client.patch(url, {"name": "x"}, format="json", HTTP_X_CSRFTOKEN=token).status_code == 200


# Production settings -------------------------------------------------------------------------


def test_production_transport_and_content_security_settings():
    script = (
        "import json, django; django.setup(); from django.conf import settings as s;"
        "print(json.dumps({k: getattr(s, k) for k in ('DEBUG', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE',"
        "'SESSION_COOKIE_HTTPONLY', 'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SECURE_SSL_REDIRECT',"
        "'SECURE_CONTENT_TYPE_NOSNIFF', 'X_FRAME_OPTIONS', 'ALLOWED_HOSTS')} | {'CSP': s.CONTENT_SECURITY_POLICY}))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "FRACTURE_"))}
    env |= {
        "DJANGO_SETTINGS_MODULE": "fracture_site.settings.production",
        "DJANGO_SECRET_KEY": "a-long-random-production-secret-value-for-this-test-9f3k2",
        "DJANGO_ALLOWED_HOSTS": "triage.example.org",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    prod = json.loads(result.stdout)
    assert prod["DEBUG"] is False and prod["ALLOWED_HOSTS"] == ["triage.example.org"]
    assert prod["SESSION_COOKIE_SECURE"] and prod["CSRF_COOKIE_SECURE"] and prod["SESSION_COOKIE_HTTPONLY"]
    assert prod["SECURE_HSTS_SECONDS"] >= 31_536_000 and prod["SECURE_HSTS_INCLUDE_SUBDOMAINS"]
    assert prod["SECURE_SSL_REDIRECT"] and prod["SECURE_CONTENT_TYPE_NOSNIFF"] and prod["X_FRAME_OPTIONS"] == "DENY"
    directives = prod["CSP"]["DIRECTIVES"]
    sources = " ".join(" ".join(values) for values in directives.values())
    assert "unsafe-inline" not in sources and "unsafe-eval" not in sources and "*" not in sources.split()
    assert directives["object-src"] == ["'none'"] and directives["frame-ancestors"] == ["'none'"]
    assert not prod["CSP"].get("REPORT_ONLY", False)


# Passwords -----------------------------------------------------------------------------------


@pytest.mark.parametrize("weak", ["short1!", "password123", "12345678901234", "dr_ada_2024", "qwertyuiop"], ids=str)
def test_weak_passwords_are_rejected(clinician, weak):
    with pytest.raises(ValidationError):
        validate_password(weak, user=clinician)


def test_a_long_uncommon_password_is_accepted(clinician):
    validate_password("tibia-radius-scaphoid-41", user=clinician)
