"""Agreement dashboard: AI against clinicians' current reads per model version; staff only, scoped."""

from __future__ import annotations

import datetime

import pytest

from diagnosis import agreement, selectors, services
from tests.factories import PredictionFactory, UserFactory

pytestmark = pytest.mark.django_db


def _read(team, user, *, label: str, read: str, version: str = "v1"):
    trait = {"fractured": True} if label == "fractured" else {"not_fractured": True}
    prediction = PredictionFactory(radiograph__case__team=team, model_version=version, **trait)
    return services.review_create(prediction=prediction, user=user, read=read)


def test_rate_has_a_wilson_interval():
    rate = agreement.Rate(8, 10)
    assert rate.value == 0.8
    low, high = rate.interval
    assert round(low, 3) == 0.490 and round(high, 3) == 0.943
    assert agreement.Rate(0, 0).value is None and agreement.Rate(0, 0).interval is None


def test_confusion_matrix_sensitivity_specificity_per_version(clinician, team):
    pairs = [("fractured", "fracture"), ("fractured", "fracture"), ("not_fractured", "fracture"),
             ("not_fractured", "no_fracture"), ("fractured", "no_fracture"), ("fractured", "uncertain")]  # fmt: skip
    for label, read in pairs:
        _read(team, clinician, label=label, read=read)
    _read(team, clinician, label="fractured", read="fracture", version="v0")
    superseded = _read(team, clinician, label="fractured", read="no_fracture")
    services.review_create(
        prediction=superseded.prediction, user=clinician, read="fracture"
    )  # counts once, as fracture

    versions = agreement.agreement_by_version(selectors.agreement_pairs(user=clinician))
    assert [v.version for v in versions] == ["v1", "v0"]
    v1 = versions[0]
    assert v1.rows == [("Fracture", [3, 1]), ("No fracture", [1, 1]), ("Uncertain", [1, 0])]
    assert (v1.sensitivity.hits, v1.sensitivity.total) == (3, 4)
    assert (v1.specificity.hits, v1.specificity.total) == (1, 2)
    assert (v1.agreement.hits, v1.agreement.total, v1.total) == (4, 6, 7)
    monday = datetime.date.today() - datetime.timedelta(days=datetime.date.today().weekday())
    assert v1.weekly == {(monday, "agree"): 4, (monday, "disagree"): 2, (monday, "uncertain"): 1}
    assert agreement.plot_matrix(v1).startswith("data:image/png;base64,")
    assert agreement.plot_weekly(v1).startswith("data:image/png;base64,")


def test_pending_predictions_and_other_teams_are_not_counted(clinician, outsider, team):
    pending = PredictionFactory(radiograph__case__team=team)
    services.review_create(prediction=pending, user=clinician, read="fracture")
    _read(team, clinician, label="fractured", read="fracture")
    assert selectors.agreement_pairs(user=clinician).count() == 1
    assert selectors.agreement_pairs(user=outsider).count() == 0


def test_dashboard_is_for_staff_only(client, clinician, team):
    _read(team, clinician, label="fractured", read="fracture", version="v-dash")
    client.force_login(clinician)
    assert client.get("/agreement/").status_code == 403
    assert b"/agreement/" not in client.get("/").content
    staff = UserFactory(is_staff=True, teams=[team])
    client.force_login(staff)
    response = client.get("/agreement/")
    html = response.content.decode()
    assert response.status_code == 200 and "Model v-dash" in html and "data:image/png;base64," in html
    assert "<strong>100%</strong> (1 of 1" in html
    other_staff = UserFactory(is_staff=True)
    client.force_login(other_staff)
    assert "v-dash" not in client.get("/agreement/").content.decode()
