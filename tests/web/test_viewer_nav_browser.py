"""Next/previous image of the case inside the viewer, in Chromium: the image, heat map, AI opinion,
read form and history, title, heading and address change in place (no page load), the display
settings stay, back/forward and reload work, the focus and a live region follow, axe stays clean;
without JavaScript the links load the pages. Screenshots after next/previous at both sizes.
"""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.base import ContentFile
from playwright.sync_api import expect

from diagnosis.models import Review
from inference.heatmap import overlay_png
from tests.factories import CaseFactory, PatientFactory, PredictionFactory, RadiographFactory, UserFactory, image_bytes
from tests.web.browser import DESKTOP, PASSWORD, PHONE, SCREENSHOTS, axe_violations, horizontal_overflow, log_in

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MARK = "window.__samePage"
BOXES = (
    "['viewer-image', 'viewer-overlay'].map(i => JSON.stringify(document.getElementById(i).getBoundingClientRect()))"
)


def _heat_map(prediction, size: tuple[int, int]) -> None:
    cam = np.zeros((7, 7), dtype=np.float32)
    cam[1:3, 1:3] = 4.0
    png = overlay_png(cam, image_size=size, spec={"size": 224, "resize": "letterbox"})
    prediction.overlay.save("overlay.png", ContentFile(png), save=True)


@pytest.fixture
def series(team):
    """Three images, listed newest first: [0] PA with a heat map, [1] a portrait lateral without one
    (read once already), [2] an oblique with a heat map."""
    reader = UserFactory(username="dr_viewer", teams=[team], password=PASSWORD)
    case = CaseFactory(patient=PatientFactory(team=team, name="Grace Hopper"), team=team)
    made = []
    specs = [("oblique.png", (400, 300), "fractured"), ("lateral.png", (240, 400), "not_fractured"),
             ("pa.png", (400, 300), "fractured")]  # fmt: skip
    for n, (name, size, verdict) in enumerate(specs, start=1):
        radiograph = RadiographFactory(
            case=case, original_filename=name, content=image_bytes(size=size, variant=n), width=size[0], height=size[1]
        )
        prediction = PredictionFactory(radiograph=radiograph, model_version="20261128-065535-default", **{verdict: 1})
        if verdict == "fractured":
            _heat_map(prediction, size)
        made.append(radiograph)
    lateral = made[1].current_prediction
    Review.objects.create(prediction=lateral, reader=reader, read="no_fracture", note="Lateral clear.")
    return made[::-1]  # in the case's order: pa, lateral, oblique


def _open(page, url: str, radiograph) -> None:
    page.goto(f"{url}/radiographs/{radiograph.pk}/")
    page.wait_for_selector("#viewer.viewer-ready")
    assert page.evaluate("document.getElementById('viewer-image').complete")


def _shown(page, radiograph, position: int) -> None:
    """The page shows ``radiograph`` as image ``position`` of 3, its picture loaded and laid out."""
    expect(page.locator("h1")).to_contain_text(f"X-ray {radiograph.original_filename} ({position} of 3)")
    expect(page.locator("#viewer")).not_to_have_attribute("aria-busy", "true")
    assert page.get_attribute("#viewer-image", "src") == f"/radiographs/{radiograph.pk}/image/"
    page.wait_for_function("document.getElementById('viewer-image').complete")
    assert page.url.split("#")[0].endswith(f"/radiographs/{radiograph.pk}/")
    assert page.title().startswith(f"X-ray {radiograph.original_filename} ({position} of 3) · Grace Hopper")
    assert f"Image {position} of 3" in page.inner_text(".viewer-nav")


def test_next_and_previous_swap_everything_in_place_and_keep_the_settings(new_page, live_server, series):
    pa, lateral, oblique = series
    page = new_page(viewport=DESKTOP)
    log_in(page, live_server.url, "dr_viewer")
    _open(page, live_server.url, pa)
    page.evaluate(f"{MARK} = true")
    page.focus("#viewer-stage")
    for key in ("b", "b", "i", "h", "r", "+"):
        page.keyboard.press(key)
    page.fill("#viewer-overlay-opacity", "30")
    page.dispatch_event("#viewer-overlay-opacity", "input")
    page.focus("#viewer-stage")
    assert float(page.get_attribute("#viewer-stage", "data-scale")) > 1

    page.keyboard.press("PageDown")
    _shown(page, lateral, 2)
    assert page.evaluate(MARK), "no page load: the viewer stayed"
    expect(page.locator("#viewer-announcer")).to_have_text("Image 2 of 3: lateral.png")
    assert page.evaluate("document.activeElement.id") == "viewer-stage", "the focus stays on the image"
    assert page.input_value("#viewer-brightness") == "120", "brightness carries over"
    assert "invert(1)" in page.eval_on_selector("#viewer-image", "e => e.style.filter")
    assert page.get_attribute("#viewer-stage", "data-scale") == "1.0000", "zoom starts again at fit"
    assert "rotate(0deg)" in page.eval_on_selector("#viewer-image", "e => e.style.transform")
    assert page.eval_on_selector("#viewer-image", "e => e.getBoundingClientRect().height") > 300, "portrait fits"
    expect(page.locator('[data-action="overlay"]')).to_be_hidden()
    assert page.locator("#viewer-overlay").count() == 0
    assert "No heat map is available" in page.inner_text("#viewer-heatmap")
    verdict = page.text_content(".verdict")
    assert "No fracture seen" in verdict and "Lateral clear." in verdict and "History of reads (1)" in verdict
    review_action = f"/predictions/{lateral.current_prediction.pk}/review/"
    assert page.get_attribute("#review-form", "action") == review_action, "the read goes to this image"
    assert axe_violations(page) == []

    page.click("#viewer-next")  # with the mouse, to the last image
    _shown(page, oblique, 3)
    assert page.evaluate(MARK)
    expect(page.locator("#viewer-overlay")).to_be_visible()  # the heat map was on: it still is
    expect(page.locator('[data-action="overlay"]')).to_have_attribute("aria-pressed", "true")
    assert page.input_value("#viewer-overlay-opacity") == "30"
    assert page.eval_on_selector("#viewer-overlay", "e => e.style.opacity") == "0.3"
    boxes = page.evaluate(BOXES)
    assert boxes[0] == boxes[1], "the new heat map lies on the new image"
    assert page.locator("#viewer-next").count() == 0
    assert page.evaluate("document.activeElement.id") == "viewer-stage", "no next link: the focus goes to the image"
    assert "Suspected fracture" in page.inner_text(".verdict") and "History of reads" not in page.inner_text(".verdict")

    page.go_back()
    _shown(page, lateral, 2)
    page.go_back()
    _shown(page, pa, 1)
    page.go_forward()
    _shown(page, lateral, 2)
    assert page.evaluate(MARK), "back and forward stayed in the page"
    page.focus("#viewer-stage")
    page.keyboard.press("PageUp")
    _shown(page, pa, 1)

    page.reload()
    page.wait_for_selector("#viewer.viewer-ready")
    _shown(page, pa, 1)
    assert not page.evaluate(f"{MARK} === true"), "a reload loads the page itself"


def test_the_focus_follows_the_link_and_full_screen_stays(new_page, live_server, series):
    pa, lateral, _ = series
    page = new_page(viewport=DESKTOP)
    log_in(page, live_server.url, "dr_viewer")
    _open(page, live_server.url, pa)
    page.check("#id_read_0")
    page.click("#review-form button[type=submit]")
    page.wait_for_selector("#viewer.viewer-ready")
    expect(page.locator(".messages")).to_contain_text("Your read (fracture) is recorded.")
    page.focus("#viewer-next")
    page.keyboard.press("Enter")
    _shown(page, lateral, 2)
    assert page.evaluate("document.activeElement.id") == "viewer-next", "Enter again goes on to the next image"
    assert page.locator(".messages").count() == 0, "the message was about the other image"

    page.focus("#viewer-stage")
    page.keyboard.press("f")
    page.wait_for_function("document.fullscreenElement && document.fullscreenElement.id === 'viewer'")
    page.keyboard.press("PageUp")
    _shown(page, pa, 1)
    assert page.evaluate("document.fullscreenElement && document.fullscreenElement.id") == "viewer"


def test_without_javascript_the_links_load_the_pages(new_page, live_server, series):
    pa, lateral, _ = series
    page = new_page(viewport=DESKTOP)
    log_in(page, live_server.url, "dr_viewer")  # logs in with the form; JavaScript goes off below
    cookies = page.context.cookies()
    page = new_page(viewport=DESKTOP, java_script_enabled=False)
    page.context.add_cookies(cookies)
    page.goto(f"{live_server.url}/radiographs/{pa.pk}/")
    page.click("#viewer-next")
    page.wait_for_url(f"**/radiographs/{lateral.pk}/#viewer")
    assert "X-ray lateral.png (2 of 3)" in page.inner_text("h1")


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_screenshots_after_next_and_previous(new_page, live_server, series, size):
    pa, lateral, oblique = series
    page = new_page(viewport=DESKTOP if size == "desktop" else PHONE)
    log_in(page, live_server.url, "dr_viewer")
    _open(page, live_server.url, pa)
    page.focus("#viewer-stage")
    page.keyboard.press("h")
    page.keyboard.press("PageDown")
    _shown(page, lateral, 2)
    page.keyboard.press("PageDown")
    _shown(page, oblique, 3)
    page.keyboard.press("PageUp")
    _shown(page, lateral, 2)
    assert horizontal_overflow(page) <= 0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"radiograph-viewer-previous-{size}.png"), full_page=True)
    page.keyboard.press("PageDown")
    _shown(page, oblique, 3)
    assert horizontal_overflow(page) <= 0 and axe_violations(page) == []
    page.screenshot(path=str(SCREENSHOTS / f"radiograph-viewer-next-{size}.png"), full_page=True)
