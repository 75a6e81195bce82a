"""Fixtures for the security tests: a victim clinician with a full set of records, and probes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.core.files.base import ContentFile

from diagnosis.models import Case, Patient, Prediction, Radiograph
from tests.factories import PredictionFactory, image_bytes


@dataclass(frozen=True)
class Records:
    """One of everything, owned by ``team`` (the ``clinician``'s team)."""

    patient: Patient
    case: Case
    radiograph: Radiograph
    prediction: Prediction


@pytest.fixture
def victim(clinician, team) -> Records:
    """``clinician`` (dr_ada) owns these through ``team``."""
    prediction = PredictionFactory(
        fractured=True,
        radiograph__case__team=team,
        radiograph__case__patient__team=team,
        radiograph__case__patient__name="Victoria Victim",
        radiograph__case__patient__mrn="VICTIM-0001",
    )
    prediction.overlay.save("overlay.png", ContentFile(image_bytes()), save=True)  # a heat map to steal
    radiograph = prediction.radiograph
    return Records(
        patient=radiograph.case.patient,
        case=radiograph.case,
        radiograph=radiograph,
        prediction=prediction,
    )
