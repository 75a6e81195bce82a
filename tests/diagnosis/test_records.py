"""Patients and cases: services and the selectors' visibility rule."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404

from diagnosis import selectors, services
from diagnosis.models import Case
from tests.factories import CaseFactory, PatientFactory, PredictionFactory, RadiographFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

DOB = datetime.date(1980, 5, 17)


def test_patient_create_trims_and_defaults_to_the_only_team(clinician, team):
    patient = services.patient_create(user=clinician, mrn="  A123 ", name=" Ada Lovelace ", date_of_birth=DOB)
    assert (patient.mrn, patient.name, patient.team, patient.sex) == ("A123", "Ada Lovelace", team, "unknown")


def test_patient_create_needs_a_team_choice_for_members_of_several(clinician):
    clinician.groups.add(TeamFactory())
    with pytest.raises(ValidationError, match="Choose the care team"):
        services.patient_create(user=clinician, mrn="A1", name="X", date_of_birth=DOB)


def test_patient_create_refuses_a_team_the_user_is_not_in(clinician):
    with pytest.raises(ValidationError, match="not a member"):
        services.patient_create(user=clinician, team=TeamFactory(), mrn="A1", name="X", date_of_birth=DOB)


def test_patient_mrn_is_unique_and_not_blank(clinician):
    services.patient_create(user=clinician, mrn="A1", name="X", date_of_birth=DOB)
    with pytest.raises(ValidationError, match="MRN already exists"):
        services.patient_create(user=clinician, mrn=" A1", name="Y", date_of_birth=DOB)
    with pytest.raises(ValidationError):
        services.patient_create(user=clinician, mrn="   ", name="Y", date_of_birth=DOB)


def test_patient_update_changes_only_demographics(clinician, team):
    patient = PatientFactory(team=team)
    services.patient_update(user=clinician, patient=patient, data={"name": "New Name", "sex": "male"})
    patient.refresh_from_db()
    assert (patient.name, patient.sex) == ("New Name", "male")
    with pytest.raises(ValidationError, match="cannot be changed"):
        services.patient_update(user=clinician, patient=patient, data={"team": TeamFactory()})


def test_patient_update_of_another_teams_patient_is_not_found(outsider):
    with pytest.raises(Http404):
        services.patient_update(user=outsider, patient=PatientFactory(), data={"name": "X"})


def test_case_create_for_visible_patient(clinician, team):
    case = services.case_create(
        user=clinician, patient=PatientFactory(team=team), body_region="ankle", clinical_question=" Twisted. "
    )
    assert (case.team, case.status, case.clinical_question, case.created_by) == (team, "open", "Twisted.", clinician)


def test_case_create_refuses_invisible_patient_and_bad_region(clinician, team):
    with pytest.raises(ValidationError, match="Unknown patient"):
        services.case_create(user=clinician, patient=PatientFactory(), body_region="ankle")
    with pytest.raises(ValidationError, match="body_region"):
        services.case_create(user=clinician, patient=PatientFactory(team=team), body_region="tail")


def test_case_update_closes_case(clinician, team):
    case = CaseFactory(team=team)
    services.case_update(user=clinician, case=case, data={"status": "closed"})
    assert Case.objects.get(pk=case.pk).status == "closed"


def test_patient_visibility_rule(clinician, outsider, team):
    registered_here = PatientFactory(team=team)
    treated_here = CaseFactory(team=team).patient  # registered by another team
    treated_here.team = TeamFactory()
    treated_here.save()
    elsewhere = PatientFactory()
    assert set(selectors.patient_list(user=clinician)) == {registered_here, treated_here}
    assert set(selectors.patient_list(user=outsider)) == set()
    with pytest.raises(Http404):
        selectors.patient_get(user=clinician, pk=elsewhere.pk)
    with pytest.raises(Http404):
        selectors.patient_get(user=clinician, pk="not-a-number")
    superuser = UserFactory(is_superuser=True)
    assert selectors.patient_list(user=superuser).count() == 3


def test_patient_search_by_mrn_or_name(clinician, team):
    ada = PatientFactory(team=team, mrn="AB-100", name="Ada Lovelace")
    PatientFactory(team=team, mrn="ZZ-200", name="Grace Hopper")
    assert list(selectors.patient_list(user=clinician, query="ab-1")) == [ada]
    assert list(selectors.patient_list(user=clinician, query="lovel")) == [ada]


def test_cases_radiographs_predictions_are_scoped(clinician, outsider, team):
    prediction = PredictionFactory(radiograph__case__team=team)
    case = prediction.radiograph.case
    assert list(selectors.case_list(user=clinician)) == [case]
    assert list(selectors.prediction_list(user=clinician, filters={"case": case.pk})) == [prediction]
    for getter, pk in [
        (selectors.case_get, case.pk),
        (selectors.radiograph_get, prediction.radiograph.pk),
        (selectors.prediction_get, prediction.pk),
    ]:
        assert getter(user=clinician, pk=pk).pk == pk
        with pytest.raises(Http404):
            getter(user=outsider, pk=pk)


def test_worklist_flags_cases_whose_current_prediction_suspects_a_fracture(clinician, team):
    quiet = CaseFactory(team=team)
    PredictionFactory(radiograph__case=quiet, not_fractured=True)
    flagged = CaseFactory(team=team)
    PredictionFactory(radiograph__case=flagged, fractured=True)
    rerun = CaseFactory(team=team)
    radiograph = RadiographFactory(case=rerun)
    PredictionFactory(radiograph=radiograph, fractured=True)
    newest = PredictionFactory(radiograph=radiograph, not_fractured=True)

    rows = {case.pk: case for case in selectors.worklist(user=clinician)}
    assert [case.pk for case in selectors.worklist(user=clinician)] == [rerun.pk, flagged.pk, quiet.pk]
    assert (rows[flagged.pk].fracture_suspected, rows[quiet.pk].fracture_suspected) == (True, False)
    assert rows[rerun.pk].fracture_suspected is False
    assert (rows[rerun.pk].latest_prediction_id, rows[rerun.pk].latest_prediction_label) == (newest.pk, "not_fractured")
    assert (rows[rerun.pk].radiograph_count, rows[rerun.pk].latest_radiograph_id) == (1, radiograph.pk)


def test_case_get_prefetches_current_prediction(clinician, team, django_assert_num_queries):
    older = PredictionFactory(radiograph__case__team=team, fractured=True)
    newer = PredictionFactory(radiograph=older.radiograph)
    case = selectors.case_get(user=clinician, pk=older.radiograph.case.pk)
    with django_assert_num_queries(0):
        assert [r.current_prediction for r in case.radiographs.all()] == [newer]


@pytest.mark.parametrize("born", ["1850-01-01", "2999-01-01"])
def test_date_of_birth_must_be_plausible(clinician, team, born):
    with pytest.raises(ValidationError) as error:
        services.patient_create(
            user=clinician, team=team, mrn="DOB-1", name="Time Traveller",
            date_of_birth=datetime.date.fromisoformat(born), sex="unknown",
        )  # fmt: skip
    assert "date_of_birth" in error.value.message_dict


def test_worklist_shows_the_most_suspicious_image_and_how_many_are_suspected(clinician, team):
    case = CaseFactory(team=team)
    high = PredictionFactory(radiograph__case=case, fractured=True, probability=0.41, threshold=0.3)
    PredictionFactory(radiograph__case=case, fractured=True, probability=0.35, threshold=0.3)
    newest = PredictionFactory(radiograph__case=case, not_fractured=True, probability=0.13, threshold=0.3)
    pending = PredictionFactory(radiograph__case=case)  # still queued: not a result yet
    re_run = RadiographFactory(case=case)  # once 0.99, re-run to 0.05: only the current run counts
    PredictionFactory(radiograph=re_run, fractured=True, probability=0.99)
    PredictionFactory(radiograph=re_run, not_fractured=True, probability=0.05)

    row = selectors.worklist(user=clinician).get(pk=case.pk)
    assert row.latest_prediction_probability == 0.05  # what the worklist used to show
    assert (row.shown_prediction_id, row.shown_prediction_probability) == (high.pk, 0.41)
    assert (row.shown_prediction_label, row.shown_radiograph_id) == ("fractured", high.radiograph_id)
    assert (row.radiograph_count, row.suspected_count, row.pending_count) == (5, 2, 1)
    assert newest.pk != row.shown_prediction_id and pending.pk != row.shown_prediction_id


def test_worklist_shows_the_newest_run_until_one_finishes(clinician, team):
    case = CaseFactory(team=team)
    PredictionFactory(radiograph__case=case, status="failed", error="bad")
    queued = PredictionFactory(radiograph__case=case)
    row = selectors.worklist(user=clinician).get(pk=case.pk)
    assert (row.shown_prediction_id, row.shown_prediction_status, row.shown_prediction_probability) == (
        queued.pk, "queued", None,
    )  # fmt: skip
    assert (row.suspected_count, row.pending_count, row.fracture_suspected) == (0, 1, False)
    empty = CaseFactory(team=team)
    row = selectors.worklist(user=clinician).get(pk=empty.pk)
    assert (row.shown_prediction_id, row.shown_radiograph_id, row.suspected_count) == (None, None, 0)
