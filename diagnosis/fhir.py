"""A prediction as a FHIR R4 DiagnosticReport, built and validated with ``fhir.resources``.

The report contains an Observation (the AI probability, its label and the threshold), the
model version as a Device, and for a DICOM radiograph the ImagingStudy it came from. The models
are ``fhir.resources.R4B`` (FHIR 4.3.0): DiagnosticReport, Observation, Device and ImagingStudy
are unchanged from R4 (4.0.1), the release hospitals run.

Status: ``registered`` while the model runs, ``cancelled`` when it failed, ``preliminary`` for
an AI opinion alone, ``final`` once a clinician has read the image (``clinician_reads``).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from django.utils import timezone
from fhir.resources.R4B.diagnosticreport import DiagnosticReport

from diagnosis.models import DicomInstance, Prediction
from diagnosis.reads import ClinicianRead, clinician_reads

FHIR_MEDIA_TYPE = "application/fhir+json"
UCUM = "http://unitsofmeasure.org"
DISCLAIMER = "Decision support only: not a diagnosis. The treating clinician reviews the image and decides."
_READ_TEXT = {"fracture": "fracture", "no_fracture": "no fracture", "uncertain": "uncertain"}


def _iso(moment: datetime.datetime | None) -> str | None:
    return timezone.localtime(moment).isoformat() if moment else None


def _probability(value: float) -> dict:
    return {"value": round(float(value), 6), "unit": "probability", "system": UCUM, "code": "1"}


def _observation(prediction: Prediction, *, subject: dict, final: bool) -> dict:
    fractured = prediction.label == Prediction.Label.FRACTURED
    label_text = prediction.get_label_display()
    return {
        "resourceType": "Observation",
        "id": "ai-opinion",
        "status": "final" if final else "preliminary",
        "category": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "imaging"}]}
        ],
        "code": {"text": "AI probability of a fracture on the radiograph"},
        "subject": subject,
        "issued": _iso(prediction.finished_at),
        "valueQuantity": _probability(prediction.probability),
        "interpretation": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                        "code": "A" if fractured else "N",
                        "display": "Abnormal" if fractured else "Normal",
                    }
                ],
                "text": label_text,
            }
        ],
        "component": [
            {"code": {"text": "AI label"}, "valueCodeableConcept": {"text": label_text}},
            {"code": {"text": "Decision threshold"}, "valueQuantity": _probability(prediction.threshold)},
        ],
        "device": {"reference": "#model"},
        "note": [{"text": DISCLAIMER}],
    }


def _device(prediction: Prediction) -> dict:
    return {
        "resourceType": "Device",
        "id": "model",
        "deviceName": [{"name": "Fracture triage CNN", "type": "model-name"}],
        "type": {"text": "AI decision-support software (fracture / no fracture)"},
        "version": [{"value": prediction.model_version}],
    }


def _imaging_study(instance: DicomInstance, subject: dict) -> dict:
    study = {
        "resourceType": "ImagingStudy",
        "id": "study",
        "status": "available",
        "subject": subject,
        "identifier": [{"system": "urn:dicom:uid", "value": f"urn:oid:{instance.study_instance_uid}"}],
    }
    if instance.modality:
        study["modality"] = [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": instance.modality}]
    if instance.accession_number:
        study["identifier"].append({"type": {"text": "Accession number"}, "value": instance.accession_number})
    return study


def _conclusion(prediction: Prediction, reads: list[ClinicianRead]) -> str | None:
    if prediction.status == Prediction.Status.FAILED:
        return f"The AI opinion could not be produced: {prediction.error}"
    if prediction.status != Prediction.Status.SUCCEEDED:
        return None
    ai = (
        f"AI opinion: {prediction.get_label_display().lower()} (probability {prediction.probability:.0%}, "
        f"threshold {prediction.threshold:.2f}, model {prediction.model_version}). {DISCLAIMER}"
    )
    if not reads:
        return ai
    latest = reads[0]
    note = f" {latest.note}" if latest.note else ""
    return f"Clinician read ({latest.clinician}): {_READ_TEXT.get(latest.read, latest.read)}.{note} {ai}"


def prediction_report(
    prediction: Prediction,
    *,
    absolute: Callable[[str], str],
    reads: list[ClinicianRead] | None = None,
) -> DiagnosticReport:
    """The validated DiagnosticReport for ``prediction``; ``absolute`` turns a path into a URL."""
    reads = clinician_reads(prediction) if reads is None else reads
    radiograph = prediction.radiograph
    patient = radiograph.case.patient
    subject = {
        "identifier": {"system": absolute("/api/v1/patients/"), "value": patient.mrn},
        "display": patient.name,
    }
    status = {
        Prediction.Status.SUCCEEDED: "final" if reads else "preliminary",
        Prediction.Status.FAILED: "cancelled",
    }.get(prediction.status, "registered")
    report: dict = {
        "resourceType": "DiagnosticReport",
        "id": f"prediction-{prediction.pk}",
        "identifier": [{"system": absolute("/api/v1/predictions/"), "value": str(prediction.pk)}],
        "status": status,
        "category": [
            {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD", "display": "Radiology"}
                ]
            }
        ],
        "code": {
            "coding": [{"system": "http://loinc.org", "code": "18748-4", "display": "Diagnostic imaging study"}],
            "text": "AI fracture triage of a radiograph",
        },
        "subject": subject,
        "effectiveDateTime": _iso(radiograph.uploaded_at),
        "issued": _iso(prediction.finished_at or prediction.created_at),
        "conclusion": _conclusion(prediction, reads),
    }
    contained = []
    if prediction.status == Prediction.Status.SUCCEEDED:
        contained += [_observation(prediction, subject=subject, final=bool(reads)), _device(prediction)]
        report["result"] = [{"reference": "#ai-opinion"}]
    if reads:
        report["resultsInterpreter"] = [{"display": reads[0].clinician}]
    instance = DicomInstance.objects.filter(radiograph=radiograph).first()
    if instance is not None and instance.study_instance_uid:
        contained.append(_imaging_study(instance, subject))
        report["imagingStudy"] = [{"reference": "#study"}]
    if contained:
        report["contained"] = contained
    return DiagnosticReport.model_validate({key: value for key, value in report.items() if value is not None})
