"""Fixtures for the DICOM tests: a case of the clinician's team with a patient who matches the
builders' default header (MRN-DCM-1, Ada Lovelace, born 1985-12-10)."""

from __future__ import annotations

import datetime

import pytest

from tests.factories import CaseFactory, PatientFactory


@pytest.fixture
def patient(team):
    return PatientFactory(team=team, mrn="MRN-DCM-1", name="Ada Lovelace", date_of_birth=datetime.date(1985, 12, 10))


@pytest.fixture
def case(clinician, patient):
    return CaseFactory(team=patient.team, patient=patient)
