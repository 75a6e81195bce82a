"""``manage.py export_dataset``: the dataset layout, a manifest, and nothing identifying left."""

from __future__ import annotations

import csv
import datetime
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from PIL import Image
from pydicom import uid

from diagnosis.models import AuditEvent, Prediction, Review
from diagnosis.services.dicom_filing import dicom_receive
from tests.dicom import builders
from tests.factories import CaseFactory, PredictionFactory, RadiographFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.date.today().strftime("%Y%m%d")
IDENTIFYING = ["Lovelace", "MRN-DCM-1", "19851210", "ACC-1", "Elsewhere", "House", "SECRET-NOTE", "Byron", TODAY]


def _identified_dicom(study: str, **fields: object) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(builders.dicom_bytes(study_uid=study, **fields)))
    ds.ImageComments = "Ada Lovelace, ward 3"
    ds.OtherPatientNames = "Byron^Augusta Ada"
    ds.PatientAddress = "12 St James's Square, London"
    ds.OperatorsName = "Babbage^Charles"
    block = ds.private_block(0x0011, "ACME CR 1.0", create=True)
    block.add_new(0x01, "LO", "SECRET-NOTE about Lovelace")
    return builders.to_bytes(ds)


def _png_with_text() -> bytes:
    buffer = io.BytesIO()
    builders.xray(64).save(buffer, "PNG")
    data = buffer.getvalue()
    payload = b"Author\x00Ada Lovelace MRN-DCM-1"
    chunk = struct.pack(">I", len(payload)) + b"tEXt" + payload + struct.pack(">I", zlib.crc32(b"tEXt" + payload))
    return data[:33] + chunk + data[33:]  # after IHDR


def _succeed(prediction: Prediction, label: str) -> None:
    Prediction.objects.filter(pk=prediction.pk).update(
        status="succeeded", label=label, probability=0.8 if label == "fractured" else 0.2, threshold=0.5,
        model_version="tiny-test",
    )  # fmt: skip


@pytest.fixture
def records(team, patient):
    study = uid.generate_uid()
    dicoms = [
        dicom_receive(team=team, file=ContentFile(_identified_dicom(study), name=f"{n}.dcm")).radiograph
        for n in range(2)
    ]
    for radiograph in dicoms:
        _succeed(radiograph.current_prediction, "fractured")
    png = RadiographFactory(
        case=CaseFactory(team=team, patient=patient), content=_png_with_text(), original_filename="Ada Lovelace.png"
    )
    _succeed(PredictionFactory(radiograph=png), "not_fractured")
    PredictionFactory(radiograph__case=CaseFactory(team=team, patient=patient))  # still queued: not exported
    return dicoms, png


def _export(tmp_path: Path, *args: str) -> tuple[Path, list[dict[str, str]], str]:
    out = tmp_path / "export"
    stdout = io.StringIO()
    call_command("export_dataset", "--out", str(out), *args, stdout=stdout)
    with (out / "manifest.csv").open() as handle:
        return out, list(csv.DictReader(handle)), stdout.getvalue()


def _texts(dataset: pydicom.Dataset) -> list[str]:
    found = []
    for element in dataset.iterall():
        if element.VR in ("SQ", "OB", "OW", "UN") or element.tag == 0x7FE00010:
            continue
        found.append(str(element.value))
    return found


def test_the_export_has_the_dataset_layout_and_a_manifest(records, tmp_path):
    out, rows, stdout = _export(tmp_path)
    assert sorted(p.name for p in out.iterdir()) == ["fractured", "manifest.csv", "not fractured"]
    assert [row["file"] for row in rows] == ["fractured/000001.dcm", "fractured/000002.dcm", "not fractured/000003.png"]
    assert {row["label_source"] for row in rows} == {"model"} and rows[0]["ai_probability"] == "0.800000"
    assert "exported 3 images" in stdout and "1 no label" in stdout
    assert AuditEvent.objects.filter(action="export", extra__written=3).exists()
    assert not list(tmp_path.glob(".*partial"))


def test_no_identifying_tag_or_text_survives(records, tmp_path):
    dicoms, _ = records
    out, rows, _ = _export(tmp_path)
    originals = [pydicom.dcmread(r.image.path) for r in dicoms]
    forbidden = IDENTIFYING + [str(o[key].value) for o in originals for key in ("StudyInstanceUID", "SOPInstanceUID")]
    for path in out.rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            leaked = [text for text in forbidden if text.encode() in raw]
            assert not leaked, f"{path.name} still holds {leaked}"
    exported = [pydicom.dcmread(out / row["file"]) for row in rows if row["file"].endswith(".dcm")]
    for original, ds in zip(originals, exported, strict=True):
        texts = " ".join(_texts(ds))
        assert not [text for text in ["Ada", "Babbage", "London", *IDENTIFYING] if text in texts], texts
        assert ds.PatientIdentityRemoved == "YES"
        assert [item.CodeValue for item in ds.DeidentificationMethodCodeSequence] == ["113100", "113107"]
        assert not [element for element in ds if element.tag.is_private]
        assert ds.PatientBirthDate == "" and "StudyDescription" not in ds and "ImageComments" not in ds
        assert ds.StudyDate != original.StudyDate  # shifted
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID != original.SOPInstanceUID
        assert ds.PixelData == original.PixelData  # the picture itself is untouched
    # One patient: the study keeps one (new) UID and one date shift across its instances.
    assert exported[0].StudyInstanceUID == exported[1].StudyInstanceUID
    assert exported[0].StudyDate == exported[1].StudyDate


def test_pngs_lose_every_metadata_chunk_but_keep_their_pixels(records, tmp_path):
    _, png = records
    out, _, _ = _export(tmp_path)
    exported = (out / "not fractured" / "000003.png").read_bytes()
    assert b"tEXt" not in exported and b"Lovelace" not in exported
    with png.image.open("rb") as original:
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(exported))), np.asarray(Image.open(original)))


def test_burned_in_annotation_is_not_exported(team, patient, tmp_path):
    filed = dicom_receive(team=team, file=ContentFile(_burned_in(), name="b.dcm")).radiograph
    _succeed(filed.current_prediction, "fractured")
    _, rows, stdout = _export(tmp_path)
    assert rows == [] and "burned-in annotation" in stdout


def _burned_in() -> bytes:
    ds = pydicom.dcmread(io.BytesIO(builders.dicom_bytes()))
    ds.BurnedInAnnotation = "YES"
    return builders.to_bytes(ds)


def test_reviewed_only_needs_clinician_reads_which_do_not_exist_yet(records, tmp_path):
    with pytest.raises(CommandError, match="no clinician reads are recorded yet"):
        call_command("export_dataset", "--out", str(tmp_path / "out"), "--reviewed-only")
    assert not (tmp_path / "out").exists()


def test_reviewed_only_uses_the_reads_once_there_are_some(records, tmp_path, clinician):
    dicoms, _ = records
    Review.objects.create(prediction=dicoms[0].current_prediction, reader=clinician, read="no_fracture")
    _, rows, _ = _export(tmp_path, "--reviewed-only")
    assert [(row["file"], row["label_source"]) for row in rows] == [("not fractured/000001.dcm", "clinician")]


def test_an_existing_export_is_never_overwritten(records, tmp_path):
    out = tmp_path / "export"
    out.mkdir()
    (out / "keep.txt").write_text("earlier work")
    with pytest.raises(CommandError, match="is not empty"):
        call_command("export_dataset", "--out", str(out))
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_an_unknown_team_is_a_one_line_error(tmp_path, db):
    with pytest.raises(CommandError, match="no care team named 'Nobody'"):
        call_command("export_dataset", "--out", str(tmp_path / "o"), "--team", "Nobody")
