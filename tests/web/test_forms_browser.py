"""Forms in a real browser: what Chromium shows and submits, not only what Django renders."""

from __future__ import annotations

import datetime

import pytest

from diagnosis.models import Patient
from tests.factories import PatientFactory, UserFactory
from tests.web.browser import log_in

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_saving_an_unchanged_patient_keeps_the_date_of_birth(browser_page, live_server, team):
    UserFactory(username="dr_dates", teams=[team], password="a-long-test-password-42")
    patient = PatientFactory(team=team, name="Ada Edit", date_of_birth=datetime.date(1946, 12, 9))
    page = browser_page
    log_in(page, live_server.url, "dr_dates")
    page.goto(f"{live_server.url}/patients/{patient.pk}/edit/")
    assert page.input_value("#id_date_of_birth") == "1946-12-09"
    page.click("main button[type=submit]")
    page.wait_for_selector("text=Patient details saved.")
    patient.refresh_from_db()
    assert patient.date_of_birth == datetime.date(1946, 12, 9)
    assert Patient.objects.count() == 1
