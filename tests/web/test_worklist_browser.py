"""The triage worklist in Chromium: a result that arrives while the page is open re-orders it and
updates the counts without a reload; axe-core on the filtered page; screenshots to look at."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from diagnosis.models import Case, Prediction
from tests.factories import CaseFactory, PatientFactory, PredictionFactory, UserFactory
from tests.web.browser import DESKTOP, PASSWORD, PHONE, SCREENSHOTS, axe_violations, horizontal_overflow, log_in

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cases(team):
    UserFactory(username="dr_triage", teams=[team], password=PASSWORD)
    made = {}
    for name, hours, trait in [("Old calm", 20, "not_fractured"), ("Suspected", 5, "fractured"), ("Arriving", 1, None)]:
        case = CaseFactory(patient=PatientFactory(team=team, name=name), team=team)
        Case.objects.filter(pk=case.pk).update(created_at=timezone.now() - datetime.timedelta(hours=hours))
        made[name] = PredictionFactory(radiograph__case=case, **({trait: True} if trait else {}))
    return made


def _names(page) -> list[str]:
    return page.eval_on_selector_all("#worklist td.lead a", "links => links.map(a => a.textContent)")


def test_a_finished_prediction_reorders_the_worklist_without_a_reload(new_page, live_server, cases):
    page = new_page(viewport=DESKTOP)
    log_in(page, live_server.url, "dr_triage")
    assert _names(page) == ["Suspected", "Old calm", "Arriving"]
    assert page.inner_text("[data-filter=suspected] .count") == "1"
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    Prediction.objects.filter(pk=cases["Arriving"].pk).update(
        status="succeeded", label="fractured", probability=0.97, threshold=0.5, model_version="test",
        finished_at=timezone.now(),
    )  # fmt: skip
    expect(page.locator("[data-filter=suspected] .count")).to_have_text("2", timeout=30_000)
    assert _names(page) == ["Arriving", "Suspected", "Old calm"]
    assert navigations == [], "the page reloaded"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "worklist-triage-desktop.png"), full_page=True)


def test_filtered_worklist_passes_axe_on_a_phone(new_page, live_server, cases):
    page = new_page(viewport=PHONE)
    log_in(page, live_server.url, "dr_triage")
    page.click("[data-filter=suspected]")
    page.wait_for_selector("[data-filter=suspected][aria-current=page]")
    assert _names(page) == ["Suspected"]
    assert axe_violations(page) == [] and horizontal_overflow(page) <= 0
    page.screenshot(path=str(SCREENSHOTS / "worklist-triage-phone.png"), full_page=True)
