"""One read per upload: the file is read once into one buffer that is hashed, sniffed, decoded and
stored; pixels are decoded once on the request and once in the worker; the case is queried once."""

from __future__ import annotations

import hashlib
import io
from collections import Counter
from pathlib import Path
from unittest import mock

import pydicom
import pytest
from django.core.files.uploadedfile import InMemoryUploadedFile, SimpleUploadedFile
from django.core.files.uploadhandler import MemoryFileUploadHandler
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from PIL import ImageFile

from diagnosis import selectors, services
from diagnosis.models import Prediction, Radiograph
from diagnosis.services.dicom_filing import dicom_receive
from diagnosis.services.predictions import prediction_run
from inference.predictor import PredictionResult
from tests.dicom import builders
from tests.factories import CaseFactory, image_bytes

pytestmark = pytest.mark.django_db

READS: Counter[str] = Counter()


class CountingBytesIO(io.BytesIO):
    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        READS["bytes"] += len(data)
        return data

    def readinto(self, buffer) -> int:
        n = super().readinto(buffer)
        READS["bytes"] += n
        return n

    def getvalue(self) -> bytes:
        data = super().getvalue()
        READS["bytes"] += len(data)
        return data


class CountingMemoryHandler(MemoryFileUploadHandler):
    """Django's in-memory handler; the file it hands to the view counts the bytes read from it."""

    def file_complete(self, file_size: int) -> InMemoryUploadedFile | None:
        uploaded = super().file_complete(file_size)
        if uploaded is not None:
            uploaded.file = CountingBytesIO(uploaded.file.getbuffer().tobytes())
        return uploaded


@pytest.fixture
def decodes(monkeypatch) -> Counter[str]:
    """Pixel decodes: Pillow loads with tiles still to decode, and pydicom ``pixel_array``."""
    counts: Counter[str] = Counter()
    real_load, real_pixels = ImageFile.ImageFile.load, pydicom.dataset.Dataset.pixel_array

    def load(self):
        if getattr(self, "tile", None):
            counts["pixels"] += 1
        return real_load(self)

    def pixel_array(self):
        counts["pixels"] += 1
        return real_pixels.fget(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    monkeypatch.setattr(pydicom.dataset.Dataset, "pixel_array", property(pixel_array))
    return counts


@pytest.fixture
def counted_uploads(settings):
    READS.clear()
    settings.FILE_UPLOAD_HANDLERS = [
        "diagnosis.validation.UploadLimitHandler",
        f"{__name__}.CountingMemoryHandler",
    ]
    return READS


@pytest.fixture
def case(team):
    return CaseFactory(team=team, patient__team=team, patient__mrn="MRN-DCM-1")


def _stored_bytes(radiograph: Radiograph) -> bytes:
    return Path(radiograph.image.path).read_bytes()


@pytest.mark.parametrize("kind", ["jpeg", "dicom"])
def test_service_reads_the_file_once_and_stores_that_buffer(case, clinician, decodes, kind):
    data = image_bytes("JPEG", size=(320, 240)) if kind == "jpeg" else builders.dicom_bytes()
    upload = CountingBytesIO(data)
    READS.clear()
    decodes.clear()  # building the DICOM decoded its source JPEG
    radiograph = services.radiograph_upload(case=case, file=upload, user=clinician)
    assert READS["bytes"] == len(data)
    assert decodes["pixels"] == 1
    assert _stored_bytes(radiograph) == data and radiograph.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("via", ["web", "api"])
def test_request_reads_the_upload_once_and_decodes_once(
    case, clinician_client, api_client, counted_uploads, decodes, sent_tasks, via
):
    data = image_bytes("JPEG", size=(320, 240))
    upload = SimpleUploadedFile("wrist.jpg", data)
    if via == "web":
        response = clinician_client.post(f"/cases/{case.pk}/upload/", {"image": upload})
        assert response.status_code == 302
    else:
        response = api_client.post(f"/api/v1/cases/{case.pk}/radiographs/", {"image": upload})
        assert response.status_code == 202
    assert counted_uploads["bytes"] == len(data)
    assert decodes["pixels"] == 1
    assert _stored_bytes(Radiograph.objects.get()) == data


def test_dicom_node_reads_the_instance_once(team, decodes, sent_tasks):
    data = builders.dicom_bytes(patient_id="MRN-NODE")
    READS.clear()
    decodes.clear()
    filed = dicom_receive(team=team, file=CountingBytesIO(data), calling_ae_title="MODALITY")
    assert filed.created and READS["bytes"] == len(data) and decodes["pixels"] == 1
    assert _stored_bytes(filed.radiograph) == data


@pytest.mark.parametrize("kind", ["jpeg", "dicom"])
def test_worker_decodes_the_stored_file_once(case, clinician, decodes, sent_tasks, kind):
    data = image_bytes("JPEG", size=(320, 240)) if kind == "jpeg" else builders.dicom_bytes()
    radiograph = services.radiograph_upload(case=case, file=io.BytesIO(data), user=clinician)
    decodes.clear()
    predictor = mock.Mock()
    predictor.predict_images.side_effect = lambda images: [
        PredictionResult(probability=0.9, label="fractured", threshold=0.5, model_version="v", inference_ms=1.0)
        for _ in images
    ]
    with mock.patch("inference.predictor.get_predictor", return_value=predictor):
        prediction_run(prediction_id=radiograph.current_prediction.pk)
    assert Prediction.objects.get(radiograph=radiograph).status == Prediction.Status.SUCCEEDED
    assert decodes["pixels"] == 1


def test_upload_looks_the_case_up_once(case, api_client, sent_tasks):
    upload = SimpleUploadedFile("wrist.png", image_bytes())
    with CaptureQueriesContext(connection) as queries:
        response = api_client.post(f"/api/v1/cases/{case.pk}/radiographs/", {"image": upload})
    assert response.status_code == 202
    selects = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("SELECT")]
    case_reads = [sql for sql in selects if 'FROM "diagnosis_case"' in sql and "FOR UPDATE" not in sql]
    team_reads = [sql for sql in selects if 'FROM "auth_group"' in sql and 'FROM "diagnosis_case"' not in sql]
    assert len(case_reads) == 1, "\n".join(case_reads)
    assert team_reads == []


def test_a_case_from_the_upload_selector_is_not_checked_again(case, clinician, outsider, sent_tasks):
    checked = selectors.case_for_upload(user=clinician, pk=case.pk)
    with mock.patch.object(selectors, "case_for_upload", side_effect=AssertionError("checked twice")):
        services.radiograph_upload(case=checked, file=io.BytesIO(image_bytes()), user=clinician)
    # Checked for someone else, or a plain case object: looked up (and refused) for this user.
    with pytest.raises(Http404):
        services.radiograph_upload(case=checked, file=io.BytesIO(image_bytes(variant=1)), user=outsider)
    with pytest.raises(Http404):
        services.radiograph_upload(case=case, file=io.BytesIO(image_bytes(variant=2)), user=outsider)
