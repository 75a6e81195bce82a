"""The DICOM node against dcmtk's ``storescu`` and ``echoscu``, as a modality or a PACS talks to it.

The node runs in this process (the same ``start_node`` the ``dicom_listener`` command calls) on
a free port; dcmtk's tools run as subprocesses. The database is shared for real (transactional).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pydicom import uid

from diagnosis.dicom.scp import authorised_callers
from diagnosis.models import DicomCallingAE, Prediction, Radiograph
from tests.dicom import builders
from tests.dicom.scu import storescu
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def mapped(team):
    return DicomCallingAE.objects.create(ae_title="PACS1", team=team)


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_echo_answers(dicom_node, mapped):
    config = dicom_node()
    tool = builders.require_tool("echoscu")
    result = subprocess.run(
        [tool, "-aet", "PACS1", "-aec", "FRACTURE", "127.0.0.1", str(config.port)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_storescu_files_instances_in_several_syntaxes_and_queues_the_model(
    dicom_node, mapped, team, tmp_path, sent_tasks
):
    config = dicom_node()
    study = uid.generate_uid()
    syntaxes = [uid.ExplicitVRLittleEndian, uid.JPEG2000Lossless, uid.RLELossless, uid.JPEGBaseline8Bit]
    files = {
        syntax: _write(tmp_path, f"f{index}", builders.dicom_bytes(syntax, study_uid=study))
        for index, syntax in enumerate(syntaxes)
    }
    for syntax, path in files.items():
        result = storescu(config, path, syntax=syntax)
        assert result.returncode == 0, result.stdout + result.stderr
    radiographs = list(Radiograph.objects.select_related("case", "dicom"))
    assert len(radiographs) == 4 and {r.case_id for r in radiographs} == {radiographs[0].case_id}
    assert radiographs[0].case.team == team and {r.dicom.calling_ae_title for r in radiographs} == {"PACS1"}
    assert sorted(sent_tasks) == sorted(Prediction.objects.values_list("pk", flat=True))
    assert {r.dicom.transfer_syntax_uid for r in radiographs} == set(syntaxes)
    # Sent again (a PACS retrying): idempotent, still four.
    assert all(storescu(config, path, syntax=syntax).returncode == 0 for syntax, path in files.items())
    assert Radiograph.objects.count() == 4 and Prediction.objects.count() == 4


def test_the_stored_original_is_the_instance_as_sent(dicom_node, mapped, tmp_path):
    config = dicom_node()
    data = builders.dicom_bytes(uid.JPEG2000Lossless)
    assert storescu(config, _write(tmp_path, "a.dcm", data), syntax=uid.JPEG2000Lossless).returncode == 0
    radiograph = Radiograph.objects.get()
    with radiograph.image.open("rb") as stored:
        received = stored.read()
    # The data set travels as sent; only the file meta group is the receiver's own.
    import pydicom

    sent, kept = pydicom.dcmread(_write(tmp_path, "x", data)), pydicom.dcmread(_write(tmp_path, "y", received))
    assert kept.PixelData == sent.PixelData and kept.SOPInstanceUID == sent.SOPInstanceUID
    assert kept.file_meta.TransferSyntaxUID == uid.JPEG2000Lossless


def test_unknown_callers_are_refused_at_association_in_production_mode(dicom_node, mapped, tmp_path):
    config = dicom_node()  # no fallback team: as in production
    result = storescu(config, _write(tmp_path, "a", builders.dicom_bytes()), calling="STRANGER")
    assert result.returncode != 0
    assert "Calling AE Title Not Recognized" in result.stdout + result.stderr
    assert not Radiograph.objects.exists()


def test_a_wrong_called_ae_title_is_refused(dicom_node, mapped, tmp_path):
    config = dicom_node()
    result = storescu(config, _write(tmp_path, "a", builders.dicom_bytes()), called="SOMEONEELSE")
    assert result.returncode != 0 and "Called AE Title Not Recognized" in result.stdout + result.stderr


def test_unknown_callers_go_to_the_fallback_team_where_configured(dicom_node, tmp_path):
    demo = TeamFactory(name="Demo care team")
    config = dicom_node(unknown_caller_team="Demo care team")
    assert storescu(config, _write(tmp_path, "a", builders.dicom_bytes()), calling="ANYONE").returncode == 0
    assert Radiograph.objects.get().case.team == demo


def test_the_allow_list_limits_even_mapped_callers(dicom_node, mapped, tmp_path):
    config = dicom_node(allowed_calling_aes=("OTHER",))
    assert authorised_callers(config) == ["<no calling AE is authorised>"]
    assert storescu(config, _write(tmp_path, "a", builders.dicom_bytes())).returncode != 0


@pytest.mark.parametrize(
    ("make", "status"),
    [
        (lambda: builders.dicom_bytes(modality="CT"), "Error: DataSetDoesNotMatchSOPClass"),  # 0xA900
        (builders.multi_frame, "Error: DataSetDoesNotMatchSOPClass"),
        (lambda: builders.dicom_bytes(patient_id=""), "Error: CannotUnderstand"),  # 0xC000
    ],
    ids=["ct-in-a-cr", "multi-frame", "cannot-file"],
)
def test_bad_datasets_get_a_dicom_failure_status_and_nothing_is_stored(
    dicom_node, mapped, tmp_path, settings, make, status
):
    config = dicom_node()
    result = storescu(config, _write(tmp_path, "bad", make()))
    output = result.stdout + result.stderr
    assert f"Received Store Response ({status})" in output, output
    assert not Radiograph.objects.exists()
    assert not [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]
