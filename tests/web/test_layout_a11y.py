"""Every main page in Chromium at a desktop and a phone size: no sideways scrolling on the phone,
the AI opinion on screen, keyboard access, and no serious or critical axe-core violation.

Screenshots of the worklist, case and patient pages are kept under var/test-screenshots/ for a
person to look at.
"""

from __future__ import annotations

import datetime

import pytest

from tests.factories import CaseFactory, PatientFactory, PredictionFactory, RadiographFactory, UserFactory, image_bytes
from tests.web.browser import DESKTOP, PHONE, SCREENSHOTS, axe_violations, horizontal_overflow, log_in

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SCREENSHOT_PAGES = ("worklist", "case", "patient")


@pytest.fixture
def records(team):
    UserFactory(username="dr_layout", teams=[team], password="a-long-test-password-42", first_name="Ada",
                last_name="Lovelace")  # fmt: skip
    patient = PatientFactory(team=team, name="Mary Wollstonecraft-Shelley", mrn="MRN-2026-000123",
                             date_of_birth=datetime.date(1946, 12, 9))  # fmt: skip
    question = "Fall on outstretched hand, tender anatomical snuffbox; scaphoid fracture?"
    case = CaseFactory(patient=patient, team=team, body_region="wrist", clinical_question=question)
    names = ["left-wrist-posteroanterior-view-2026-12-02.png", "left-wrist-lateral.png", "scaphoid-view.png"]
    for n, (name, probability) in enumerate(zip(names, (0.41, 0.13, None), strict=True), start=1):
        radiograph = RadiographFactory(case=case, original_filename=name, content=image_bytes(variant=n))
        if probability is None:
            PredictionFactory(radiograph=radiograph)  # still queued
        else:
            label = "fractured" if probability >= 0.3 else "not_fractured"
            PredictionFactory(radiograph=radiograph, status="succeeded", label=label, probability=probability,
                              threshold=0.3, model_version="20261128-065535-default")  # fmt: skip
    other = CaseFactory(patient=PatientFactory(team=team, name="Alan Turing"), team=team, body_region="ankle")
    PredictionFactory(radiograph__case=other, not_fractured=True)
    return {"patient": patient, "case": case, "radiograph": case.radiographs.order_by("id").first()}


def _pages(records: dict) -> dict[str, str]:
    patient, case, radiograph = records["patient"], records["case"], records["radiograph"]
    return {
        "worklist": "/",
        "patients": "/patients/",
        "patient": f"/patients/{patient.pk}/",
        "case": f"/cases/{case.pk}/",
        "radiograph": f"/radiographs/{radiograph.pk}/",
        "patient-new": "/patients/new/",
        "patient-edit": f"/patients/{patient.pk}/edit/",
        "case-new": f"/patients/{patient.pk}/cases/new/",
        "case-edit": f"/cases/{case.pk}/edit/",
    }


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_main_pages_fit_the_screen_and_pass_axe(new_page, live_server, records, size):
    viewport = DESKTOP if size == "desktop" else PHONE
    page = new_page(viewport=viewport)
    page.goto(live_server.url + "/accounts/login/")
    problems = {"login": axe_violations(page)}
    overflow = {"login": horizontal_overflow(page)}
    log_in(page, live_server.url, "dr_layout")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, path in _pages(records).items():
        page.goto(live_server.url + path)
        page.wait_for_selector("main h1")
        page.wait_for_load_state("networkidle")
        problems[name] = axe_violations(page)
        overflow[name] = horizontal_overflow(page)
        if name in SCREENSHOT_PAGES:
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{size}.png"), full_page=True)
    assert {k: v for k, v in problems.items() if v} == {}
    assert {k: v for k, v in overflow.items() if v > 0} == {}, f"wider than {viewport['width']} px"


@pytest.mark.parametrize("name", ["worklist", "case"])
def test_the_ai_opinion_is_on_screen_on_a_phone(new_page, live_server, records, name):
    page = new_page(viewport=PHONE)
    log_in(page, live_server.url, "dr_layout")
    page.goto(live_server.url + _pages(records)[name])
    badge = page.locator(".result.label-fractured").first
    badge.scroll_into_view_if_needed()
    box = badge.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert "41%" in badge.inner_text()
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]


def test_keyboard_users_get_a_skip_link_and_a_visible_focus_on_browse(browser_page, live_server, records):
    page = browser_page
    log_in(page, live_server.url, "dr_layout")
    page.goto(f"{live_server.url}/cases/{records['case'].pk}/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to main content"
    assert page.evaluate("document.activeElement.getBoundingClientRect().top") >= 0, "shown when focused"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "id_image":
            break
    else:
        pytest.fail("the file input cannot be reached with Tab")
    ring = page.evaluate("getComputedStyle(document.querySelector('label.browse')).outlineStyle")
    assert ring == "solid", "the browse control shows where the keyboard focus is"
    landmarks = page.evaluate(
        "[...document.querySelectorAll('.notice')].map(n => !!n.closest('header, main, footer, nav, aside'))"
    )
    assert landmarks == [True], "the decision-support banner is inside a landmark"
