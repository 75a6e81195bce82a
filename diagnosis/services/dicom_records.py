"""DICOM bookkeeping inside an upload: the instance row, the study -> case link, case flags.

Called by ``radiograph_store`` inside its transaction; nothing here runs on its own.
"""

from __future__ import annotations

import re

from django.contrib.auth.models import Group

from diagnosis.models import Case, CaseFlag, DicomInstance, DicomStudy, Patient, Radiograph
from inference.dicom import DicomHeader


def dicom_instance_existing(*, team: Group, header: DicomHeader) -> Radiograph | None:
    """The radiograph this team already holds for the SOP instance, if any (repeats are idempotent)."""
    found = (
        DicomInstance.objects.filter(team=team, sop_instance_uid=header.sop_instance_uid)
        .select_related("radiograph__case")
        .first()
    )
    return found.radiograph if found else None


def _name_tokens(name: str) -> set[str]:
    return {token for token in re.split(r"[\s^,.]+", (name or "").casefold()) if token}


def demographics_differences(*, patient: Patient, header: DicomHeader) -> list[str]:
    """What the header says differently from the patient record (name order and case ignored)."""
    differences = []
    if header.patient_name and _name_tokens(header.patient_name) != _name_tokens(patient.name):
        differences.append(f"name \u201c{header.patient_name}\u201d (record: \u201c{patient.name}\u201d)")
    if header.patient_birth_date and header.patient_birth_date != patient.date_of_birth:
        given, recorded = header.patient_birth_date, patient.date_of_birth
        differences.append(f"birth date {given:%Y-%m-%d} (record: {recorded:%Y-%m-%d})")
    return differences


def _flag_mismatches(*, case: Case, radiograph: Radiograph, header: DicomHeader) -> None:
    patient = case.patient
    if header.patient_id and header.patient_id != patient.mrn:
        CaseFlag.objects.create(
            case=case,
            radiograph=radiograph,
            kind=CaseFlag.Kind.PATIENT_ID_MISMATCH,
            message=f"The DICOM header gives patient ID {header.patient_id}; this case's patient has MRN "
            f"{patient.mrn}. Check that the image belongs to this patient.",
        )
        return
    differences = demographics_differences(patient=patient, header=header)
    if differences:
        CaseFlag.objects.create(
            case=case,
            radiograph=radiograph,
            kind=CaseFlag.Kind.DEMOGRAPHICS_MISMATCH,
            message=f"The DICOM header for MRN {patient.mrn} gives {'; '.join(differences)}. "
            "The patient record was not changed.",
        )


def dicom_instance_record(*, radiograph: Radiograph, header: DicomHeader, calling_ae_title: str = "") -> DicomInstance:
    """Record the instance behind a new radiograph; link its study to the case; flag mismatches."""
    case = radiograph.case
    instance = DicomInstance(
        radiograph=radiograph,
        team=case.team,
        sop_instance_uid=header.sop_instance_uid,
        sop_class_uid=header.sop_class_uid,
        study_instance_uid=header.study_instance_uid,
        series_instance_uid=header.series_instance_uid,
        accession_number=header.accession_number,
        modality=header.modality,
        patient_id=header.patient_id,
        transfer_syntax_uid=header.transfer_syntax_uid,
        calling_ae_title=calling_ae_title,
        tags=header.tags,
    )
    instance.full_clean(validate_unique=False)  # the database constraint decides a race
    instance.save()
    if header.study_instance_uid:
        DicomStudy.objects.get_or_create(
            team=case.team,
            study_instance_uid=header.study_instance_uid,
            defaults={"case": case, "accession_number": header.accession_number},
        )
    _flag_mismatches(case=case, radiograph=radiograph, header=header)
    return instance
