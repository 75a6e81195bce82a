"""Fixtures for the DICOM tests: a case of the clinician's team with a patient who matches the
builders' default header (MRN-DCM-1, Ada Lovelace, born 1985-12-10)."""

from __future__ import annotations

import datetime

import pytest

from diagnosis.dicom.scp import NodeConfig, start_node
from tests.dicom.scu import free_port
from tests.factories import CaseFactory, PatientFactory


@pytest.fixture
def patient(team):
    return PatientFactory(team=team, mrn="MRN-DCM-1", name="Ada Lovelace", date_of_birth=datetime.date(1985, 12, 10))


@pytest.fixture
def case(clinician, patient):
    return CaseFactory(team=patient.team, patient=patient)


@pytest.fixture
def dicom_node():
    """Start the node in this process (the same ``start_node`` the command calls); stopped after the test."""
    servers = []

    def run(**overrides: object) -> NodeConfig:
        config = NodeConfig(**{"ae_title": "FRACTURE", "port": free_port(), "bind_address": "127.0.0.1", **overrides})
        servers.append(start_node(config, block=False))
        return config

    yield run
    for server in servers:
        server.shutdown()
