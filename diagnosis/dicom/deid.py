"""De-identification of DICOM files for export: PS3.15 Basic Application Level Confidentiality Profile.

dicognito does the work it is maintained for: names, IDs, addresses and equipment replaced, all
UIDs remapped (consistently within one ``Anonymizer``) and dates and times shifted (by one
offset per ``Anonymizer``). One anonymizer per patient therefore gives consistent UIDs and a
per-patient date shift. On top of it, as the profile requires: private tags removed, the free-text
and descriptive attributes it lists removed, birth date and sex emptied, and the method recorded.
Images with burned-in annotation cannot be cleaned here and are refused.
"""

from __future__ import annotations

import io

import pydicom
from dicognito.anonymizer import Anonymizer
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.sequence import Sequence

# PS3.15 Table E.1-1 attributes (action X, or Z/D/U for text) that dicognito leaves alone.
REMOVED_ATTRIBUTES = (
    "AcquisitionComments",
    "AdditionalPatientHistory",
    "AdmittingDiagnosesDescription",
    "Allergies",
    "CountryOfResidence",
    "CurrentPatientLocation",
    "DerivationDescription",
    "DeviceSerialNumber",
    "EthnicGroup",
    "FrameComments",
    "IdentifyingComments",
    "ImageComments",
    "InstitutionalDepartmentName",
    "InterpretationText",
    "MedicalAlerts",
    "Occupation",
    "OtherPatientIDsSequence",
    "PatientAge",
    "PatientComments",
    "PatientSize",
    "PatientState",
    "PatientWeight",
    "PerformedProcedureStepDescription",
    "PregnancyStatus",
    "ProtocolName",
    "ReasonForStudy",
    "RegionOfResidence",
    "RequestAttributesSequence",
    "RequestedProcedureDescription",
    "ScheduledProcedureStepDescription",
    "SeriesDescription",
    "SmokingStatus",
    "SpecialNeeds",
    "StudyComments",
    "StudyDescription",
    "TextComments",
    "TextString",
    "VisitComments",
)
EMPTIED_ATTRIBUTES = ("PatientBirthDate", "PatientBirthTime", "PatientSex")
_METHOD_CODES = (
    ("113100", "Basic Application Confidentiality Profile"),
    ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
)


class DeidentificationRefused(ValueError):
    """The file cannot be made safe automatically (burned-in text, unreadable)."""


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
    return item


def _strip(dataset: Dataset) -> None:
    for keyword in REMOVED_ATTRIBUTES:
        if keyword in dataset:
            del dataset[keyword]
    for element in dataset:
        if element.VR == "SQ":
            for item in element.value:
                _strip(item)


def deidentify(data: bytes, anonymizer: Anonymizer) -> bytes:
    """The de-identified file (pixel data untouched); ``anonymizer`` is the patient's own."""
    try:
        dataset = pydicom.dcmread(io.BytesIO(data))
    except (InvalidDicomError, ValueError, TypeError, KeyError, AttributeError, EOFError, OSError) as exc:
        raise DeidentificationRefused(f"unreadable DICOM file ({exc})") from exc
    if str(dataset.get("BurnedInAnnotation", "NO")).upper() != "NO":
        raise DeidentificationRefused("the image has burned-in annotation")
    anonymizer.anonymize(dataset)
    dataset.remove_private_tags()
    _strip(dataset)
    for keyword in EMPTIED_ATTRIBUTES:
        if keyword in dataset:
            dataset[keyword].value = ""
    dataset.PatientIdentityRemoved = "YES"
    dataset.DeidentificationMethodCodeSequence = Sequence([_code(*code) for code in _METHOD_CODES])
    out = io.BytesIO()
    dataset.save_as(out, enforce_file_format=True)
    return out.getvalue()
