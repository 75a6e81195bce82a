"""The case page's upload list in Chromium: duplicates are named, failures can be retried or dismissed."""

from __future__ import annotations

import json

import pytest

from diagnosis.models import Prediction, Radiograph
from tests.factories import CaseFactory, UserFactory, image_bytes
from tests.web.browser import PASSWORD, log_in

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def case_page(browser_page, live_server, team):
    UserFactory(username="dr_upload", teams=[team], password=PASSWORD)
    case = CaseFactory(team=team, patient__team=team)
    log_in(browser_page, live_server.url, "dr_upload")
    browser_page.goto(f"{live_server.url}/cases/{case.pk}/")
    browser_page.wait_for_selector("html.js #upload-form")
    return browser_page, case


def test_a_second_copy_is_named_a_duplicate_with_a_link_and_can_be_dismissed(case_page, tmp_path, sent_tasks):
    page, case = case_page
    xray = tmp_path / "wrist.png"
    xray.write_bytes(image_bytes("PNG", size=(80, 100)))
    page.set_input_files("#id_image", str(xray))
    page.wait_for_selector("#radiographs tbody tr >> text=wrist.png")
    page.set_input_files("#id_image", str(xray))
    item = page.wait_for_selector("#upload-list li.upload-duplicate")
    assert "Already in this case" in item.inner_text() and "not added again" in item.inner_text()
    existing = Radiograph.objects.get(case=case)
    assert item.query_selector("a").get_attribute("href") == f"/radiographs/{existing.pk}/"
    assert item.query_selector("button:text('Retry')") is None, "a duplicate cannot succeed on retry"
    page.click("#upload-list button[aria-label='Dismiss wrist.png']")
    assert page.locator("#upload-list li").count() == 0
    assert Radiograph.objects.filter(case=case).count() == 1 and Prediction.objects.count() == 1


def test_a_failed_upload_can_be_retried_and_a_rejected_one_dismissed(case_page, tmp_path, sent_tasks):
    page, _ = case_page
    refusing = {"on": True}

    def flaky(route):
        if refusing["on"]:
            body = json.dumps({"detail": "The service is temporarily unavailable (database unreachable)."})
            return route.fulfill(status=503, body=body, content_type="application/json")
        return route.continue_()

    page.route("**/api/v1/cases/*/radiographs/", flaky)
    xray = tmp_path / "hand.png"
    xray.write_bytes(image_bytes("PNG", size=(80, 100)))
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    page.set_input_files("#id_image", [str(xray), str(notes)])
    failed = page.wait_for_selector("#upload-list li.upload-failed:has-text('hand.png')")
    assert "temporarily unavailable" in failed.inner_text()
    rejected = page.wait_for_selector("#upload-list li.upload-failed:has-text('notes.txt')")
    assert rejected.query_selector("button:text('Retry')") is None  # a text file stays a text file
    assert Radiograph.objects.count() == 0

    refusing["on"] = False
    page.click("#upload-list button[aria-label='Retry hand.png']")
    page.wait_for_selector("#radiographs tbody tr >> text=hand.png")
    assert page.locator("#upload-list li:has-text('hand.png')").count() == 0
    assert Radiograph.objects.get().original_filename == "hand.png"
    page.click("#upload-list button[aria-label='Dismiss notes.txt']")
    assert page.locator("#upload-list li").count() == 0
