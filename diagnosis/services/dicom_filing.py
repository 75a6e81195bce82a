"""Filing a DICOM instance from its header when nobody named a case (the DICOM node).

PatientID -> the team's patient by MRN (registered from the header when absent; a different
name or birth date is flagged on the case, the record is never overwritten); StudyInstanceUID,
else AccessionNumber -> the team's case for that study (opened when absent, its body region from
BodyPartExamined); then the same ``radiograph_store`` as every upload, in one transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import IO

from django.contrib.auth.models import AbstractBaseUser, Group
from django.core.files import File
from django.db import IntegrityError, transaction

from diagnosis.audit import Action, audit_record
from diagnosis.models import BodyRegion, Case, DicomStudy, Patient, Radiograph, Sex
from diagnosis.services.dicom_records import dicom_instance_existing
from diagnosis.services.radiographs import radiograph_store
from diagnosis.services.records import save_validated
from diagnosis.validation import UploadRejected, validate_radiograph
from inference.dicom import DicomHeader

logger = logging.getLogger(__name__)

# BodyPartExamined defined terms (PS3.16 Annex L) -> the platform's body regions.
BODY_PARTS: dict[str, str] = {
    "WRIST": BodyRegion.WRIST,
    "HAND": BodyRegion.HAND,
    "FINGER": BodyRegion.HAND,
    "THUMB": BodyRegion.HAND,
    "ELBOW": BodyRegion.ELBOW,
    "FOREARM": BodyRegion.FOREARM,
    "ARM": BodyRegion.HUMERUS,
    "HUMERUS": BodyRegion.HUMERUS,
    "UPRARM": BodyRegion.HUMERUS,
    "SHOULDER": BodyRegion.SHOULDER,
    "CLAVICLE": BodyRegion.SHOULDER,
    "SCAPULA": BodyRegion.SHOULDER,
    "HIP": BodyRegion.HIP,
    "PELVIS": BodyRegion.HIP,
    "FEMUR": BodyRegion.FEMUR,
    "THIGH": BodyRegion.FEMUR,
    "KNEE": BodyRegion.KNEE,
    "LEG": BodyRegion.LEG,
    "LOWLEG": BodyRegion.LEG,
    "TIBIA": BodyRegion.LEG,
    "FIBULA": BodyRegion.LEG,
    "ANKLE": BodyRegion.ANKLE,
    "FOOT": BodyRegion.FOOT,
    "TOE": BodyRegion.FOOT,
    "HEEL": BodyRegion.FOOT,
    "SPINE": BodyRegion.SPINE,
    "CSPINE": BodyRegion.SPINE,
    "TSPINE": BodyRegion.SPINE,
    "LSPINE": BodyRegion.SPINE,
    "SSPINE": BodyRegion.SPINE,
    "COCCYX": BodyRegion.SPINE,
}
_SEXES = {"F": Sex.FEMALE, "M": Sex.MALE, "O": Sex.OTHER}


@dataclass(frozen=True)
class DicomFiled:
    radiograph: Radiograph
    created: bool  # False: this team already had the SOP instance; nothing was added


def body_region_of(body_part: str) -> str:
    return BODY_PARTS.get((body_part or "").strip().upper(), BodyRegion.OTHER)


def _visible_to(patient: Patient, team: Group) -> bool:
    return patient.team_id == team.pk or Case.objects.filter(patient=patient, team=team).exists()


def _patient_for(*, team: Group, header: DicomHeader, actor: AbstractBaseUser | None, actor_name: str) -> Patient:
    if not header.patient_id:
        raise UploadRejected("The DICOM header has no PatientID, so it cannot be filed.", code="dicom_no_patient_id")
    patient = Patient.objects.filter(mrn=header.patient_id).first()
    if patient is not None:
        if not _visible_to(patient, team):
            raise UploadRejected(
                f"MRN {header.patient_id} belongs to a patient of another care team; file it by hand.",
                code="dicom_patient_other_team",
            )
        return patient
    if header.patient_birth_date is None:
        raise UploadRejected(
            f"MRN {header.patient_id} is new and the DICOM header has no valid PatientBirthDate to register it.",
            code="dicom_no_birth_date",
        )
    patient = Patient(
        mrn=header.patient_id,
        name=header.patient_name or "Unknown (no name in DICOM header)",
        date_of_birth=header.patient_birth_date,
        sex=_SEXES.get(header.patient_sex, Sex.UNKNOWN),
        team=team,
        created_by=actor,
    )
    save_validated(patient)
    audit_record(actor=actor, actor_name=actor_name, action=Action.CREATE, obj=patient, via="dicom")
    return patient


def _case_for(*, team: Group, header: DicomHeader, actor: AbstractBaseUser | None, actor_name: str) -> Case:
    if not header.study_instance_uid:
        raise UploadRejected("The DICOM header has no StudyInstanceUID.", code="dicom_no_study")
    studies = DicomStudy.objects.filter(team=team).select_related("case")
    study = studies.filter(study_instance_uid=header.study_instance_uid).first()
    if study is None and header.accession_number:
        study = studies.filter(accession_number=header.accession_number).order_by("created_at").first()
    if study is not None:
        return study.case
    patient = _patient_for(team=team, header=header, actor=actor, actor_name=actor_name)
    question = "Received as DICOM" + (f": {header.study_description}" if header.study_description else "")
    case = Case(
        patient=patient,
        team=team,
        body_region=body_region_of(header.body_part),
        clinical_question=question,
        created_by=actor,
    )
    save_validated(case)
    audit_record(actor=actor, actor_name=actor_name, action=Action.CREATE, obj=case, via="dicom")
    return case


def dicom_receive(
    *,
    team: Group,
    file: IO[bytes] | File,
    calling_ae_title: str = "",
    actor: AbstractBaseUser | None = None,
) -> DicomFiled:
    """File a DICOM instance for ``team`` from its header and queue the model run.

    Raises ``UploadRejected`` (with a code) for anything that cannot be filed; then nothing is
    stored: no patient, case, radiograph or file.
    """
    checked = validate_radiograph(file)
    if checked.dicom is None:
        raise UploadRejected("The file is not DICOM.", code="not_dicom")
    header = checked.dicom
    actor_name = f"DICOM {calling_ae_title}".strip()
    for attempt in range(2):
        existing = dicom_instance_existing(team=team, header=header)
        if existing is not None:
            return DicomFiled(radiograph=existing, created=False)
        try:
            with transaction.atomic():
                case = _case_for(team=team, header=header, actor=actor, actor_name=actor_name)
                radiograph = radiograph_store(
                    case=case,
                    file=file,
                    uploaded_by=actor,
                    actor_name=actor_name,
                    calling_ae_title=calling_ae_title,
                    checked=checked,
                )
            return DicomFiled(radiograph=radiograph, created=True)
        except IntegrityError:
            # A simultaneous instance of the same study registered the patient or case first.
            if attempt:
                raise
            logger.info("DICOM %s: filing raced another instance; trying again", header.sop_instance_uid)
    raise AssertionError("unreachable")
