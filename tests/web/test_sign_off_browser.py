"""Sign a case off in Chromium and print its report: the print view hides the site's chrome and keeps
the decision-support notice; axe-core on the case and report pages; screenshots to look at.
"""

from __future__ import annotations

import pytest

from diagnosis.models import SignOff
from tests.factories import CaseFactory, PatientFactory, PredictionFactory, RadiographFactory, UserFactory, image_bytes
from tests.web.browser import DESKTOP, PASSWORD, PHONE, SCREENSHOTS, axe_violations, horizontal_overflow, log_in

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def case(team):
    UserFactory(username="dr_signer", teams=[team], password=PASSWORD, first_name="Mary", last_name="Seacole")
    case = CaseFactory(patient=PatientFactory(team=team, name="Florence Nightingale"), team=team,
                       clinical_question="Fall on outstretched hand.")  # fmt: skip
    for n, (name, trait) in enumerate([("pa.png", "fractured"), ("lateral.png", "not_fractured")], start=1):
        radiograph = RadiographFactory(case=case, original_filename=name, content=image_bytes(variant=n))
        PredictionFactory(radiograph=radiograph, **{trait: True}, model_version="20261128-065535-default")
    return case


def test_sign_off_then_print_the_report(new_page, live_server, case):
    page = new_page(viewport=DESKTOP)
    log_in(page, live_server.url, "dr_signer")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    page.fill("#id_impression", "Undisplaced fracture of the distal radius.")
    page.select_option("#id_final_status", "fracture")
    page.click("#sign-off-form button[type=submit]")
    page.wait_for_selector("text=Case signed off.")
    assert "signed off by Mary Seacole" in page.inner_text("#sign-off")
    assert SignOff.objects.get().final_status == "fracture"
    assert axe_violations(page) == []
    page.screenshot(path=str(SCREENSHOTS / "case-signed-off-desktop.png"), full_page=True)

    page.click("text=Printable report")
    page.wait_for_selector("h1:text('Imaging report')")
    assert axe_violations(page) == []
    page.emulate_media(media="print")
    assert not page.is_visible(".topbar") and not page.is_visible("[data-print]")
    assert page.is_visible(".notice") and page.is_visible(".report-notice")
    text = page.inner_text("main")
    assert "Undisplaced fracture of the distal radius." in text and "Mary Seacole" in text
    assert "20261128-065535-default" in text and "operating point balanced" in text
    assert page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)"), "thumbnails load"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "report-print.png"), full_page=True)
    assert len(page.pdf(format="A4")) > 1000  # browser print to PDF works


def test_report_on_a_phone_fits_and_passes_axe(new_page, live_server, case):
    page = new_page(viewport=PHONE)
    log_in(page, live_server.url, "dr_signer")
    page.goto(f"{live_server.url}/cases/{case.pk}/report/")
    assert axe_violations(page) == [] and horizontal_overflow(page) <= 0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "report-phone.png"), full_page=True)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_agreement_dashboard_passes_axe(new_page, live_server, case, size):
    from diagnosis import services
    from diagnosis.models import Prediction, Review

    staff = UserFactory(username="dr_staff", teams=[case.team], password=PASSWORD, is_staff=True)
    for prediction, read in zip(Prediction.objects.order_by("pk"), ["fracture", "fracture"], strict=True):
        services.review_create(prediction=prediction, user=staff, read=read)
    assert Review.objects.count() == 2
    page = new_page(viewport=DESKTOP if size == "desktop" else PHONE)
    log_in(page, live_server.url, "dr_staff")
    page.click("text=Agreement")
    page.wait_for_selector("h1:text('AI and clinician agreement')")
    assert "Model 20261128-065535-default" in page.inner_text("main")
    assert axe_violations(page) == [] and horizontal_overflow(page) <= 0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"agreement-{size}.png"), full_page=True)
