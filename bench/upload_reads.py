"""How often one upload is read and decoded: bytes read from the uploaded file, image opens, pixel decodes.

Usage: .venv/bin/python bench/upload_reads.py [--json FILE]
Runs in-process on a throw-away SQLite database (DATABASE_URL is ignored) with a temporary media
folder. Uploads one real JPEG from the shared dataset's test split through the web form and the
API, one DICOM (built by ``tests/dicom/builders.py`` around a dataset X-ray) through the API and
one through the DICOM node's filing service, then runs each queued prediction through
``prediction_run`` with a stub model (the worker's file reading and decoding are real, the
network is not). Printed per upload: the file's size, bytes read from the uploaded file object
(a multiple of the size means the file was read that many times), Pillow opens, pixel decodes
(Pillow ``load`` with pending tiles, pydicom ``pixel_array``) and DICOM parses; the same for the
worker, which reads the stored copy.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import warnings
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATASET = ROOT.parent / "shared" / "datasets" / "bone-fracture"

COUNTS: Counter[str] = Counter()


class CountingBytesIO(io.BytesIO):
    """Every byte handed out by any read method is counted under ``upload_bytes_read``."""

    def _count(self, data: bytes) -> bytes:
        COUNTS["upload_bytes_read"] += len(data)
        return data

    def read(self, size: int | None = -1) -> bytes:
        return self._count(super().read(size))

    def read1(self, size: int | None = -1) -> bytes:
        return self._count(super().read1(size))

    def readline(self, size: int | None = -1) -> bytes:
        return self._count(super().readline(size))

    def readinto(self, buffer) -> int:
        n = super().readinto(buffer)
        COUNTS["upload_bytes_read"] += n
        return n

    def getvalue(self) -> bytes:
        return self._count(super().getvalue())


def _counting_memory_handler():
    from django.core.files.uploadedfile import InMemoryUploadedFile
    from django.core.files.uploadhandler import MemoryFileUploadHandler

    class CountingMemoryFileUploadHandler(MemoryFileUploadHandler):
        """Django's in-memory handler, except that the file it hands to the view counts its reads."""

        def file_complete(self, file_size: int) -> InMemoryUploadedFile | None:
            uploaded = super().file_complete(file_size)
            if uploaded is not None:
                uploaded.file = CountingBytesIO(uploaded.file.getbuffer().tobytes())
            return uploaded

    return CountingMemoryFileUploadHandler


@contextmanager
def counting_decoders():
    import pydicom
    from PIL import Image, ImageFile

    real_open, real_load = Image.open, ImageFile.ImageFile.load
    real_pixel_array, real_dcmread = pydicom.dataset.Dataset.pixel_array, pydicom.dcmread

    def image_open(*args, **kwargs):
        COUNTS["image_opens"] += 1
        return real_open(*args, **kwargs)

    def load(self):
        if getattr(self, "tile", None):
            COUNTS["pixel_decodes"] += 1
        return real_load(self)

    def pixel_array(self):
        COUNTS["pixel_decodes"] += 1
        return real_pixel_array.fget(self)

    def dcmread(*args, **kwargs):
        COUNTS["dicom_parses"] += 1
        return real_dcmread(*args, **kwargs)

    with (
        mock.patch.object(Image, "open", image_open),
        mock.patch.object(ImageFile.ImageFile, "load", load),
        mock.patch.object(pydicom.dataset.Dataset, "pixel_array", property(pixel_array)),
        mock.patch.object(pydicom, "dcmread", dcmread),
    ):
        yield


def measure(step) -> dict[str, int]:
    COUNTS.clear()
    with counting_decoders():
        step()
    return {key: COUNTS[key] for key in ("upload_bytes_read", "image_opens", "pixel_decodes", "dicom_parses")}


def run() -> list[dict]:
    from django.contrib.auth.models import Group, User
    from django.test import Client
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from diagnosis.models import BodyRegion, Case, Patient, Prediction, Radiograph
    from diagnosis.services.dicom_filing import dicom_receive
    from diagnosis.services.predictions import prediction_run
    from inference.predictor import PredictionResult
    from tests.dicom.builders import dicom_bytes, xray

    jpegs = sorted((DATASET / "test" / "fractured").glob("*.jpg"), key=lambda p: p.stat().st_size)
    if not jpegs:
        raise SystemExit(f"no dataset JPEGs under {DATASET}/test/fractured")
    jpeg = jpegs[len(jpegs) // 2]  # a typical size, not the smallest or largest
    jpeg_data = jpeg.read_bytes()
    dicom_data = dicom_bytes(image=xray(1024), patient_id="MRN-B1")
    node_dicom = dicom_bytes(image=xray(1024), patient_id="MRN-B2", patient_name="Hopper^Grace")

    team = Group.objects.create(name="Bench team")
    user = User.objects.create_user("bench", password="unused-bench-password")  # noqa: S106
    user.groups.add(team)
    patient = Patient.objects.create(mrn="MRN-B1", name="Ada Lovelace", date_of_birth="1985-12-10", team=team)
    cases = [Case.objects.create(patient=patient, team=team, body_region=BodyRegion.WRIST) for _ in range(3)]
    web, api = Client(), APIClient()
    web.force_login(user)
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")

    def web_upload() -> None:
        response = web.post(f"/cases/{cases[0].pk}/upload/", {"image": _named(jpeg_data, jpeg.name)})
        assert response.status_code == 302 and Radiograph.objects.filter(case=cases[0]).exists(), response

    def api_upload(case: Case, data: bytes, name: str):
        def step() -> None:
            response = api.post(f"/api/v1/cases/{case.pk}/radiographs/", {"image": _named(data, name)})
            assert response.status_code == 202, response.content

        return step

    def node_upload() -> None:
        filed = dicom_receive(team=team, file=CountingBytesIO(node_dicom), calling_ae_title="BENCH")
        assert filed.created

    rows = [
        ("web form, dataset JPEG", len(jpeg_data), web_upload),
        ("API, dataset JPEG", len(jpeg_data), api_upload(cases[1], jpeg_data, jpeg.name)),
        ("API, DICOM (uncompressed CR)", len(dicom_data), api_upload(cases[2], dicom_data, "image.dcm")),
        ("DICOM node filing, DICOM", len(node_dicom), node_upload),
    ]
    stub = mock.Mock()
    stub.predict_images.side_effect = lambda images: [
        PredictionResult(probability=0.9, label="fractured", threshold=0.5, model_version="bench", inference_ms=1.0)
        for _ in images
    ]
    results = []
    for name, size, step in rows:
        before = set(Prediction.objects.values_list("pk", flat=True))
        request = measure(step)
        (new,) = set(Prediction.objects.values_list("pk", flat=True)) - before
        with mock.patch("inference.predictor.get_predictor", return_value=stub):
            worker = measure(lambda new=new: prediction_run(prediction_id=new))
        assert Prediction.objects.get(pk=new).status == Prediction.Status.SUCCEEDED
        worker.pop("upload_bytes_read")
        results.append({"upload": name, "file_bytes": size, "request": request, "worker": worker})
    return results


def _named(data: bytes, name: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:1/0")  # nothing is sent: ``delay`` is stubbed
    os.environ["DJANGO_SETTINGS_MODULE"] = "fracture_site.settings.test"
    os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")
    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FRACTURE_DATA_DIR"] = tmp
        import django
        from django.conf import settings

        django.setup()
        settings.MEDIA_ROOT = Path(tmp) / "media"
        handlers = list(settings.FILE_UPLOAD_HANDLERS)
        handlers[handlers.index("django.core.files.uploadhandler.MemoryFileUploadHandler")] = (
            f"{__name__}.CountingMemoryFileUploadHandler"
        )
        settings.FILE_UPLOAD_HANDLERS = handlers
        settings.FILE_UPLOAD_MAX_MEMORY_SIZE = settings.FRACTURE_MAX_UPLOAD_BYTES  # every file goes to memory
        globals()["CountingMemoryFileUploadHandler"] = _counting_memory_handler()

        from django.db import connection
        from django.test.utils import setup_test_environment

        setup_test_environment()
        connection.creation.create_test_db(verbosity=0)
        with mock.patch("diagnosis.tasks.predict.delay"):
            results = run()
    header = f"{'upload':<30} {'file':>9} | {'read':>9} {'x':>5} {'opens':>5} {'decodes':>7} {'dicom':>5}"
    print(header + " | worker: opens decodes dicom")
    for row in results:
        r, w = row["request"], row["worker"]
        times = r["upload_bytes_read"] / row["file_bytes"]
        print(
            f"{row['upload']:<30} {row['file_bytes']:>9} | {r['upload_bytes_read']:>9} {times:>5.2f} "
            f"{r['image_opens']:>5} {r['pixel_decodes']:>7} {r['dicom_parses']:>5} | "
            f"{w['image_opens']:>5} {w['pixel_decodes']:>7} {w['dicom_parses']:>5}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
