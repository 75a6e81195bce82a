"""Clinicians' reads of images: service, selector, API and page; append-only and team-scoped."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.http import Http404

from diagnosis import selectors, services
from diagnosis.models import AppendOnly, AuditEvent, Review
from tests.factories import PredictionFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def prediction(team):
    return PredictionFactory(fractured=True, radiograph__case__team=team, radiograph__case__patient__team=team)


# Services -------------------------------------------------------------------------------------


def test_review_create_records_the_read_and_audits_it(prediction, clinician):
    review = services.review_create(prediction=prediction, user=clinician, read="no_fracture", note=" cortex intact ")
    assert (review.reader, review.read, review.note, review.agrees_with_ai) == (
        clinician,
        "no_fracture",
        "cortex intact",
        False,
    )
    event = AuditEvent.objects.get(action="review")
    assert (event.actor, event.object_type, event.object_id, event.team_id) == (
        clinician,
        "review",
        str(review.pk),
        prediction.radiograph.case.team_id,
    )
    assert event.extra == {"read": "no_fracture", "ai_label": "fractured", "agrees_with_ai": False}


@pytest.mark.parametrize(("read", "agrees"), [("fracture", True), ("no_fracture", False), ("uncertain", None)])
def test_agreement_with_the_ai(prediction, clinician, read, agrees):
    assert services.review_create(prediction=prediction, user=clinician, read=read).agrees_with_ai is agrees


def test_agreement_is_unknown_while_the_ai_has_no_opinion(team, clinician):
    pending = PredictionFactory(radiograph__case__team=team)
    assert services.review_create(prediction=pending, user=clinician, read="fracture").agrees_with_ai is None


def test_a_later_read_supersedes_and_keeps_the_earlier_one(prediction, clinician, team):
    first = services.review_create(prediction=prediction, user=clinician, read="uncertain")
    colleague = UserFactory(teams=[team])
    second = services.review_create(prediction=prediction, user=colleague, read="fracture")
    history = list(selectors.review_history(user=clinician, radiograph=prediction.radiograph))
    assert history == [second, first]


def test_reads_are_append_only(prediction, clinician):
    review = services.review_create(prediction=prediction, user=clinician, read="fracture")
    review.read = "no_fracture"
    with pytest.raises(AppendOnly):
        review.save()
    with pytest.raises(AppendOnly):
        review.delete()
    with pytest.raises(AppendOnly):
        Review.objects.filter(pk=review.pk).update(read="no_fracture")
    with pytest.raises(AppendOnly):
        Review.objects.all().delete()
    assert Review.objects.get().read == "fracture"


def test_bad_read_or_long_note_is_refused(prediction, clinician):
    with pytest.raises(ValidationError) as error:
        services.review_create(prediction=prediction, user=clinician, read="maybe", note="x" * 2001)
    assert set(error.value.message_dict) == {"read", "note"}
    assert not Review.objects.exists() and not AuditEvent.objects.filter(action="review").exists()


def test_another_team_cannot_read_the_image(prediction, outsider):
    with pytest.raises(Http404):
        services.review_create(prediction=prediction, user=outsider, read="fracture")
    assert selectors.review_history(user=outsider, radiograph=prediction.radiograph).count() == 0
    assert not Review.objects.exists()


# API ------------------------------------------------------------------------------------------


def test_api_post_review_then_prediction_carries_reviews_newest_first(api_client, prediction):
    url = f"/api/v1/predictions/{prediction.pk}/"
    first = api_client.post(url + "reviews/", {"read": "uncertain", "note": "motion blur"}, format="json")
    assert first.status_code == 201, first.json()
    second = api_client.post(url + "reviews/", {"read": "fracture"}, format="json")
    assert second.status_code == 201
    body = second.json()
    assert {k: body[k] for k in ("prediction", "reader", "read", "note", "agrees_with_ai")} == {
        "prediction": prediction.pk,
        "reader": "dr_ada",
        "read": "fracture",
        "note": "",
        "agrees_with_ai": True,
    }
    reviews = api_client.get(url).json()["reviews"]
    assert [(r["read"], r["note"]) for r in reviews] == [("fracture", ""), ("uncertain", "motion blur")]
    assert set(reviews[0]) == {"id", "prediction", "reader", "read", "note", "agrees_with_ai", "created_at"}
    listed = api_client.get("/api/v1/predictions/").json()["results"][0]
    assert [r["read"] for r in listed["reviews"]] == ["fracture", "uncertain"]


def test_api_bad_review_is_400_with_field_errors(api_client, prediction):
    response = api_client.post(f"/api/v1/predictions/{prediction.pk}/reviews/", {"read": "yes"}, format="json")
    assert response.status_code == 400 and set(response.json()) == {"read"}


def test_api_review_of_another_teams_prediction_is_404(prediction, outsider):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(outsider)
    response = client.post(f"/api/v1/predictions/{prediction.pk}/reviews/", {"read": "fracture"}, format="json")
    assert response.status_code == 404 and "detail" in response.json()
    assert not Review.objects.exists()


def test_schema_has_the_reviews_route(client):
    schema = client.get("/api/v1/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/predictions/{id}/reviews/"]["post"]
    assert "201" in operation["responses"]
    assert "reviews" in schema["components"]["schemas"]["PredictionOutput"]["properties"]


# Page -----------------------------------------------------------------------------------------


def test_page_form_records_a_read_and_shows_agreement_and_history(clinician_client, prediction):
    page = f"/radiographs/{prediction.radiograph_id}/"
    assert b"Record your read" in clinician_client.get(page).content
    response = clinician_client.post(f"/predictions/{prediction.pk}/review/", {"read": "no_fracture", "note": "ok"})
    assert response.status_code == 302 and response["Location"] == page
    clinician_client.post(f"/predictions/{prediction.pk}/review/", {"read": "fracture"})
    html = clinician_client.get(page).content.decode()
    assert "Agrees with the AI" in html and "History of reads (2)" in html and "(superseded)" in html


def test_page_form_without_a_choice_is_400_and_records_nothing(clinician_client, prediction):
    response = clinician_client.post(f"/predictions/{prediction.pk}/review/", {"note": "forgot"})
    assert response.status_code == 400 and b"This field is required" in response.content
    assert not Review.objects.exists()


def test_admin_lists_reads_and_sign_offs_read_only_and_scoped(client, prediction, clinician, team):
    services.review_create(prediction=prediction, user=clinician, read="fracture")
    services.case_sign_off(case=prediction.radiograph.case, user=clinician, impression="x", final_status="fracture")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    for model in ("review", "signoff"):
        listing = client.get(f"/admin/diagnosis/{model}/")
        assert listing.status_code == 200 and b"dr_ada" in listing.content
        assert client.get(f"/admin/diagnosis/{model}/add/").status_code == 403
    staff = UserFactory(is_staff=True, is_superuser=False, teams=[])
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_review", "view_signoff"]))
    client.force_login(staff)
    assert b"dr_ada" not in client.get("/admin/diagnosis/review/").content


def test_a_read_makes_the_fhir_report_final_and_carries_it(api_client, prediction, clinician):
    assert api_client.get(f"/api/v1/predictions/{prediction.pk}/fhir/").json()["status"] == "preliminary"
    services.review_create(prediction=prediction, user=clinician, read="no_fracture", note="Old healed fracture.")
    report = api_client.get(f"/api/v1/predictions/{prediction.pk}/fhir/").json()
    assert report["status"] == "final"
    assert report["conclusion"].startswith("Clinician read (dr_ada): no fracture. Old healed fracture.")
