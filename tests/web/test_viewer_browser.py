"""The radiograph viewer and the review form in Chromium: zoom, pan, window/level, invert, rotate,
keyboard shortcuts, next image, a read recorded with the keyboard only, axe-core, screenshots.
"""

from __future__ import annotations

import hashlib

import pytest
from playwright.sync_api import expect

from diagnosis.models import Review
from tests.factories import CaseFactory, PatientFactory, PredictionFactory, RadiographFactory, UserFactory, image_bytes
from tests.web.browser import DESKTOP, PASSWORD, PHONE, SCREENSHOTS, axe_violations, horizontal_overflow, log_in

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def images(team):
    UserFactory(username="dr_viewer", teams=[team], password=PASSWORD)
    case = CaseFactory(patient=PatientFactory(team=team, name="Grace Hopper"), team=team)
    made = []
    for n, name in enumerate(["pa.png", "lateral.png"], start=1):
        radiograph = RadiographFactory(
            case=case, original_filename=name, content=image_bytes(size=(400, 300), variant=n), width=400, height=300
        )
        PredictionFactory(radiograph=radiograph, fractured=True, model_version="20261128-065535-default")
        made.append(radiograph)
    return made  # made[1] is the newest: the case lists it first


def _scale(page) -> float:
    return float(page.get_attribute("#viewer-stage", "data-scale"))


def _open(page, url: str, radiograph) -> None:
    page.goto(f"{url}/radiographs/{radiograph.pk}/")
    page.wait_for_selector("#viewer.viewer-ready")
    page.wait_for_selector("#viewer-image")
    assert page.evaluate("document.getElementById('viewer-image').complete")


def test_viewer_controls_change_the_display_only(new_page, live_server, images):
    page = new_page(viewport=DESKTOP)
    log_in(page, live_server.url, "dr_viewer")
    newest = images[1]
    stored = hashlib.sha256(newest.image.open("rb").read()).hexdigest()
    _open(page, live_server.url, newest)
    assert _scale(page) == 1

    page.click("[data-action=zoom-in]")
    assert _scale(page) > 1
    assert "scale(" in page.eval_on_selector("#viewer-pan", "e => e.style.transform")
    page.click("[data-action=fit]")
    assert _scale(page) == 1

    page.hover("#viewer-stage")
    page.mouse.wheel(0, -300)
    expect(page.locator("#viewer-stage")).not_to_have_attribute("data-scale", "1.0000")  # CSP: no eval of a predicate
    assert _scale(page) > 1

    page.click("[data-action=fit]")
    box = page.locator("#viewer-stage").bounding_box()
    before = page.eval_on_selector("#viewer-pan", "e => e.style.transform")
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 80, cy + 40, steps=5)
    page.mouse.up()
    assert page.eval_on_selector("#viewer-pan", "e => e.style.transform") != before, "dragging pans"

    page.click("[data-action=invert]")
    assert "invert(1)" in page.eval_on_selector("#viewer-image", "e => e.style.filter")
    assert page.get_attribute("[data-action=invert]", "aria-pressed") == "true"

    page.focus("#viewer-stage")
    page.keyboard.press("i")
    assert "invert" not in page.eval_on_selector("#viewer-image", "e => e.style.filter")
    page.keyboard.press("r")
    assert "rotate(90deg)" in page.eval_on_selector("#viewer-image", "e => e.style.transform")
    page.keyboard.press("+")
    assert _scale(page) > 1
    page.keyboard.press("1")
    assert page.inner_text("#viewer-zoom-value") == "100%", "1:1 is one image pixel per screen pixel"

    page.keyboard.press("w")  # window/level: drag up brightens, drag right raises the contrast
    assert page.get_attribute("[data-action=tool]", "aria-pressed") == "true"
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 60, cy - 100, steps=5)
    page.mouse.up()
    assert int(page.input_value("#viewer-brightness")) > 100 and int(page.input_value("#viewer-contrast")) > 100
    assert "brightness(150%)" in page.eval_on_selector("#viewer-image", "e => e.style.filter")

    page.keyboard.press("Escape")
    assert (page.input_value("#viewer-brightness"), page.input_value("#viewer-contrast")) == ("100", "100")
    assert _scale(page) == 1 and "rotate(0deg)" in page.eval_on_selector("#viewer-image", "e => e.style.transform")
    assert "Keyboard shortcuts" in page.inner_text("#viewer-keys")
    assert hashlib.sha256(newest.image.open("rb").read()).hexdigest() == stored, "the original is untouched"

    page.keyboard.press("PageDown")
    page.wait_for_url(f"**/radiographs/{images[0].pk}/#viewer")
    assert "Image 2 of 2" in page.inner_text(".viewer-nav")


def test_a_read_is_recorded_with_the_keyboard_only(new_page, live_server, images):
    page = new_page(viewport=DESKTOP)
    log_in(page, live_server.url, "dr_viewer")
    _open(page, live_server.url, images[1])
    page.focus("#id_read_0")  # the first choice, reached with Tab in normal use
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.type("Cortical break, distal radius.")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Record read"
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Agrees with the AI")
    review = Review.objects.get()
    assert (review.read, review.note) == ("fracture", "Cortical break, distal radius.")


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_radiograph_page_passes_axe_and_fits(new_page, live_server, images, size):
    viewport = DESKTOP if size == "desktop" else PHONE
    page = new_page(viewport=viewport)
    log_in(page, live_server.url, "dr_viewer")
    _open(page, live_server.url, images[1])
    assert axe_violations(page) == []
    assert horizontal_overflow(page) <= 0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"radiograph-viewer-{size}.png"), full_page=True)


BOXES = (
    "['viewer-image', 'viewer-overlay'].map(i => JSON.stringify(document.getElementById(i).getBoundingClientRect()))"
)


@pytest.fixture
def with_heat_map(images):
    """The newest image's prediction carries a heat map: hot in the picture's upper-left quarter."""
    import numpy as np
    from django.core.files.base import ContentFile

    from inference.heatmap import overlay_png

    cam = np.zeros((7, 7), dtype=np.float32)
    cam[1:3, 1:3] = 4.0
    prediction = images[1].current_prediction
    png = overlay_png(cam, image_size=(400, 300), spec={"size": 224, "resize": "letterbox"})
    prediction.overlay.save("overlay.png", ContentFile(png), save=True)
    return images


def test_heat_map_toggles_with_mouse_and_keyboard_and_follows_rotation_not_levels(new_page, live_server, with_heat_map):
    page = new_page(viewport=DESKTOP)
    log_in(page, live_server.url, "dr_viewer")
    _open(page, live_server.url, with_heat_map[1])
    overlay, toggle = page.locator("#viewer-overlay"), page.locator('[data-action="overlay"]')
    expect(overlay).to_be_hidden()  # off until asked for: the reader looks at the image first
    expect(page.locator("#viewer-overlay-opacity")).to_be_disabled()
    assert "Regions that drove the score; not a fracture outline" in page.inner_text("#viewer-heatmap")

    toggle.click()
    expect(overlay).to_be_visible()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("document.getElementById('viewer-overlay').naturalWidth") == 128
    page.fill("#viewer-overlay-opacity", "30")
    page.dispatch_event("#viewer-overlay-opacity", "input")
    assert page.eval_on_selector("#viewer-overlay", "e => e.style.opacity") == "0.3"
    boxes = page.evaluate(BOXES)
    assert boxes[0] == boxes[1], "the heat map lies exactly on the image"

    page.focus("#viewer-stage")  # shortcuts are ignored while a slider has the focus
    page.keyboard.press("r")
    page.keyboard.press("i")
    page.keyboard.press("+")
    assert "rotate(90deg)" in page.eval_on_selector("#viewer-overlay", "e => e.style.transform")
    assert "invert" not in (page.eval_on_selector("#viewer-overlay", "e => e.style.filter") or "")
    boxes = page.evaluate(BOXES)
    assert boxes[0] == boxes[1], "zoomed and rotated together"
    assert axe_violations(page) == []

    page.keyboard.press("h")
    expect(overlay).to_be_hidden()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    page.keyboard.press("H")
    expect(overlay).to_be_visible()
    assert "<kbd>H</kbd>" in page.inner_html("#viewer-keys")


def test_no_heat_map_says_so(new_page, live_server, images):
    page = new_page(viewport=DESKTOP)
    log_in(page, live_server.url, "dr_viewer")
    _open(page, live_server.url, images[1])
    assert page.locator("#viewer-overlay").count() == 0
    expect(page.locator('[data-action="overlay"]')).to_be_hidden()  # kept for another image of the case
    assert "No heat map is available for this model version" in page.inner_text("#viewer-heatmap")
    page.keyboard.press("h")  # harmless without a heat map
    assert axe_violations(page) == []


def test_pinch_zooms_on_a_phone(new_page, live_server, images):
    """Two fingers spread apart on the image (touch events through the DevTools protocol, which
    Chromium turns into the pointer events Panzoom reads) zoom in; pinched together, zoom out."""
    page = new_page(viewport=PHONE, has_touch=True, is_mobile=True)
    log_in(page, live_server.url, "dr_viewer")
    _open(page, live_server.url, images[1])
    assert _scale(page) == 1
    box = page.locator("#viewer-stage").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    cdp = page.context.new_cdp_session(page)

    def pinch(start: float, end: float, steps: int = 8) -> None:
        def touch(kind: str, gap: float | None) -> None:
            points = [] if gap is None else [{"x": cx - gap, "y": cy, "id": 1}, {"x": cx + gap, "y": cy, "id": 2}]
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

        touch("touchStart", start)
        for step in range(1, steps + 1):
            touch("touchMove", start + (end - start) * step / steps)
        touch("touchEnd", None)

    pinch(30, 120)
    zoomed = _scale(page)
    assert zoomed == pytest.approx(4, rel=0.02), f"four times the gap, four times the zoom ({zoomed})"
    assert page.inner_text("#viewer-zoom-value") != "100%"
    pinch(120, 60)
    assert _scale(page) == pytest.approx(zoomed / 2, rel=0.02), "half the gap, half the zoom"
    page.click("[data-action=zoom-in]")  # the buttons keep their own step
    assert _scale(page) == pytest.approx(zoomed / 2 * 1.284, rel=0.02)
