"""End to end with a real PACS: Orthanc (Debian's ``orthanc``) auto-routes what it stores to the
DICOM node, the way a department's PACS forwards CR/DX studies to an AI node; the real worker
then gives the prediction.

storescu -> Orthanc (C-STORE) -> Lua ``OnStoredInstance`` -> C-STORE to the node -> upload
service -> Redis -> Celery worker -> succeeded prediction.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from pydicom import uid

from diagnosis.models import DicomCallingAE, Prediction
from tests.dicom import builders
from tests.dicom.scu import free_port, storescu

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROUTE = """
function OnStoredInstance(instanceId, tags, metadata, origin)
  if origin['RequestOrigin'] ~= 'Lua' then
    SendToModality(instanceId, 'fracture')
  end
end
"""


@pytest.fixture
def orthanc(tmp_path):
    """A private Orthanc whose only modality is the node on ``node_port``; yields a start function."""
    executable = builders.require_tool("Orthanc")
    processes = []

    def run(node_port: int) -> dict:
        http_port, dicom_port = free_port(), free_port()
        folder = tmp_path / "orthanc"
        folder.mkdir()
        (folder / "route.lua").write_text(ROUTE)
        config = {
            "Name": "TestPACS",
            "StorageDirectory": str(folder / "db"),
            "IndexDirectory": str(folder / "db"),
            "HttpPort": http_port,
            "DicomPort": dicom_port,
            "DicomAet": "ORTHANC",
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "DicomCheckCalledAet": False,
            "DicomModalities": {"fracture": ["FRACTURE", "127.0.0.1", node_port]},
            "LuaScripts": [str(folder / "route.lua")],
            "Plugins": [],
        }
        (folder / "orthanc.json").write_text(json.dumps(config))
        log = (folder / "orthanc.log").open("w")
        processes.append(subprocess.Popen([executable, str(folder / "orthanc.json")], stdout=log, stderr=log))
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/system", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert processes[-1].poll() is None and time.monotonic() < deadline, (folder / "orthanc.log").read_text()
            time.sleep(0.5)
        return {"dicom_port": dicom_port, "http_port": http_port, "log": folder / "orthanc.log"}

    yield run
    for process in processes:
        process.terminate()
        process.wait(timeout=20)


def test_an_instance_stored_into_orthanc_is_forwarded_and_predicted(
    dicom_node, orthanc, team, worker_process, tmp_path
):
    DicomCallingAE.objects.create(ae_title="ORTHANC", team=team, description="Test PACS")
    node = dicom_node()
    pacs = orthanc(node.port)
    path = tmp_path / "wrist.dcm"
    path.write_bytes(builders.dicom_bytes(uid.JPEG2000Lossless, patient_id="PACS-42"))
    pacs_config = type("Config", (), {"ae_title": "ORTHANC", "port": pacs["dicom_port"]})
    sent = storescu(pacs_config, path, calling="MODALITY", syntax=uid.JPEG2000Lossless)
    assert sent.returncode == 0, sent.stdout + sent.stderr

    deadline = time.monotonic() + 120
    prediction = Prediction.objects.first()
    while (prediction is None or prediction.is_pending) and time.monotonic() < deadline:
        time.sleep(0.5)
        prediction = Prediction.objects.first()
    logs = f"{Path(pacs['log']).read_text()[-3000:]}\n--- worker ---\n{Path(worker_process).read_text()[-3000:]}"
    assert prediction is not None and prediction.status == "succeeded", logs
    radiograph = prediction.radiograph
    assert radiograph.dicom.calling_ae_title == "ORTHANC" and radiograph.case.team == team
    assert radiograph.case.patient.mrn == "PACS-42"
