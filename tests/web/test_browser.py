"""A clinician in a real browser: log in, register a patient, open a case, upload an X-ray and
watch the AI opinion arrive without reloading the page.

Drives Debian's Chromium with Playwright against the live test server, a real Celery worker
process and Redis. The screenshot is kept under var/test-screenshots/ for a person to look at.
"""

from __future__ import annotations

import pytest

from diagnosis.models import Prediction
from tests.factories import UserFactory, image_bytes
from tests.web.browser import PASSWORD, SCREENSHOTS

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_upload_and_see_the_result_appear_without_reloading(browser_page, live_server, worker_process, team, tmp_path):
    UserFactory(username="dr_browser", teams=[team], password=PASSWORD)
    page = browser_page
    page.goto(live_server.url + "/")
    assert page.url.startswith(live_server.url + "/accounts/login/")
    page.fill("#id_username", "dr_browser")
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_selector("h1:text('Worklist')")

    page.click("text=New patient")
    page.fill("#id_mrn", "MRN-BROWSER-1")
    page.fill("#id_name", "Ada Lovelace")
    page.fill("#id_date_of_birth", "1985-12-10")
    page.click("main button[type=submit]")
    page.wait_for_selector("h1:text('Ada Lovelace')")

    page.click("text=Open a case")
    page.select_option("#id_body_region", "wrist")
    page.fill("#id_clinical_question", "Fall on outstretched hand; scaphoid tenderness.")
    page.click("main button[type=submit]")
    page.wait_for_selector("#upload-form")

    xray = tmp_path / "left wrist.png"
    xray.write_bytes(image_bytes("PNG", size=(160, 200)))
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    page.set_input_files("#id_image", str(xray))

    result = page.wait_for_selector("#radiographs .result-succeeded", timeout=90_000)
    assert navigations == [], "the page reloaded"
    text = result.inner_text()
    assert ("Suspected fracture" in text or "No fracture seen" in text) and "%" in text
    assert page.locator("text=Decision support only: not a diagnosis.").count() == 1
    announced = page.inner_text("#live-announcer")  # role=status: screen readers hear the result arrive
    assert announced.startswith("left wrist.png: AI opinion ready: ") and "%" in announced
    row = page.locator("#radiographs tbody tr").first
    assert "tiny-test" in row.inner_text() and "left wrist.png" in row.inner_text()
    assert Prediction.objects.get().status == Prediction.Status.SUCCEEDED

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "case-upload-result.png"), full_page=True)
