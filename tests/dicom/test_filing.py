"""Filing from the header (the DICOM node's path): patient by MRN, case by study, body region."""

from __future__ import annotations

import datetime

import pytest
from django.core.files.base import ContentFile
from pydicom import uid

from diagnosis.models import AuditEvent, Case, CaseFlag, DicomStudy, Patient, Prediction, Radiograph
from diagnosis.services.dicom_filing import body_region_of, dicom_receive
from diagnosis.validation import UploadRejected
from tests.dicom import builders
from tests.factories import CaseFactory, PatientFactory, TeamFactory

pytestmark = pytest.mark.django_db


def _receive(team, data: bytes, ae: str = "MODALITY1"):
    return dicom_receive(team=team, file=ContentFile(data, name="in.dcm"), calling_ae_title=ae)


def test_a_new_mrn_registers_the_patient_and_opens_a_case_from_the_header(team, sent_tasks):
    filed = _receive(team, builders.dicom_bytes(patient_id="NEW-1", sex="M", body_part="PELVIS"))
    assert filed.created
    patient = Patient.objects.get(mrn="NEW-1")
    assert (patient.name, patient.date_of_birth, patient.sex, patient.team) == (
        "Ada Lovelace", datetime.date(1985, 12, 10), "male", team,
    )  # fmt: skip
    case = filed.radiograph.case
    assert (case.patient, case.team, case.body_region) == (patient, team, "hip")
    assert "XR WRIST 2 VIEWS" in case.clinical_question
    assert filed.radiograph.uploaded_by is None and filed.radiograph.dicom.calling_ae_title == "MODALITY1"
    assert AuditEvent.objects.filter(action="upload", actor_username="DICOM MODALITY1").exists()


def test_instances_of_one_study_or_one_accession_share_a_case(team):
    study = uid.generate_uid()
    first = _receive(team, builders.dicom_bytes(study_uid=study, accession="A-77"))
    second = _receive(team, builders.dicom_bytes(study_uid=study, accession="A-77"))
    by_accession = _receive(team, builders.dicom_bytes(accession="A-77"))
    other = _receive(team, builders.dicom_bytes(accession="A-78"))
    assert first.radiograph.case == second.radiograph.case == by_accession.radiograph.case
    assert other.radiograph.case != first.radiograph.case
    assert Patient.objects.count() == 1 and Case.objects.count() == 2
    assert DicomStudy.objects.filter(case=first.radiograph.case).count() == 2  # both study UIDs recorded


def test_a_repeated_sop_instance_adds_nothing(team, sent_tasks):
    data = builders.dicom_bytes()
    first = _receive(team, data)
    again = _receive(team, data)
    assert not again.created and again.radiograph == first.radiograph
    assert Radiograph.objects.count() == 1 and Prediction.objects.count() == 1


def test_an_existing_mrn_is_used_and_different_demographics_only_flagged(team, patient):
    filed = _receive(team, builders.dicom_bytes(patient_name="Lovelace^Augusta", birth_date="19851111"))
    assert filed.radiograph.case.patient == patient
    patient.refresh_from_db()
    assert (patient.name, patient.date_of_birth) == ("Ada Lovelace", datetime.date(1985, 12, 10))
    flag = CaseFlag.objects.get()
    assert flag.case == filed.radiograph.case and flag.kind == CaseFlag.Kind.DEMOGRAPHICS_MISMATCH
    assert "Augusta Lovelace" in flag.message and "1985-11-11" in flag.message


def test_a_study_already_filed_by_hand_goes_to_that_case(team, case, clinician):
    from diagnosis import services

    study = uid.generate_uid()
    services.radiograph_upload(
        case=case, file=ContentFile(builders.dicom_bytes(study_uid=study), name="a.dcm"), user=clinician
    )
    filed = _receive(team, builders.dicom_bytes(study_uid=study))
    assert filed.radiograph.case == case


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"patient_id": ""}, "no PatientID"),
        ({"patient_id": "NEW-2", "birth_date": ""}, "no valid PatientBirthDate"),
    ],
)
def test_what_cannot_be_filed_is_refused_and_nothing_is_created(team, settings, fields, message):
    with pytest.raises(UploadRejected, match=message):
        _receive(team, builders.dicom_bytes(**fields))
    assert not Patient.objects.exists() and not Case.objects.exists() and not Radiograph.objects.exists()
    assert not [p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file()]


def test_an_mrn_of_another_team_is_not_attached(team):
    other_team = TeamFactory(name="Orthopaedics")
    PatientFactory(team=other_team, mrn="MRN-DCM-1")
    with pytest.raises(UploadRejected, match="another care team"):
        _receive(team, builders.dicom_bytes())
    assert not Case.objects.filter(team=team).exists()


def test_a_closed_case_refuses_more_instances_of_its_study(team):
    study = uid.generate_uid()
    filed = _receive(team, builders.dicom_bytes(study_uid=study))
    Case.objects.filter(pk=filed.radiograph.case_id).update(status="closed")
    with pytest.raises(UploadRejected, match="closed"):
        _receive(team, builders.dicom_bytes(study_uid=study))


def test_the_same_instance_for_two_teams_is_two_records(team):
    other_team = TeamFactory(name="Orthopaedics")
    CaseFactory(team=other_team, patient=PatientFactory(team=team, mrn="MRN-DCM-1"))  # shared patient
    data = builders.dicom_bytes()
    assert _receive(team, data).radiograph != _receive(other_team, data).radiograph


@pytest.mark.parametrize(
    ("body_part", "region"),
    [("WRIST", "wrist"), ("lspine", "spine"), ("THIGH", "femur"), ("CHEST", "other"), ("", "other")],
)
def test_body_part_examined_maps_to_a_body_region(body_part, region):
    assert body_region_of(body_part) == region
