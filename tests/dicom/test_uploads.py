"""DICOM through the existing upload paths: service, API field ``image``, web pages, the worker."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from pydicom import uid

from diagnosis import services
from diagnosis.models import CaseFlag, DicomInstance, DicomStudy, Patient, Prediction, Radiograph
from diagnosis.validation import UploadRejected
from tests.dicom import builders

pytestmark = pytest.mark.django_db


def _stored_files(settings) -> list[Path]:
    return [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


def _upload(data: bytes, name: str = "IM000001") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def test_dicom_upload_keeps_the_original_byte_for_byte_and_records_the_instance(
    case, clinician, sent_tasks, django_capture_on_commit_callbacks
):
    data = builders.dicom_bytes(uid.JPEG2000Lossless)
    with django_capture_on_commit_callbacks(execute=True):
        radiograph = services.radiograph_upload(case=case, file=_upload(data), user=clinician)
    assert radiograph.format == "DICOM" and (radiograph.width, radiograph.height) == builders.xray().size
    assert radiograph.image.name.endswith(".dcm")
    with radiograph.image.open("rb") as stored:
        assert stored.read() == data
    assert radiograph.sha256 == hashlib.sha256(data).hexdigest()
    instance = DicomInstance.objects.get(radiograph=radiograph)
    assert instance.transfer_syntax_uid == uid.JPEG2000Lossless and instance.modality == "CR"
    assert instance.tags["Patient ID"] == "MRN-DCM-1" and instance.tags["Body part"] == "WRIST"
    assert DicomStudy.objects.get(study_instance_uid=instance.study_instance_uid).case == case
    assert sent_tasks == [radiograph.current_prediction.pk]
    assert not CaseFlag.objects.exists()  # header and record agree


def test_a_repeated_sop_instance_is_idempotent(
    case, clinician, settings, sent_tasks, django_capture_on_commit_callbacks
):
    data = builders.dicom_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        first = services.radiograph_upload(case=case, file=_upload(data), user=clinician)
        again = services.radiograph_upload(case=case, file=_upload(data, "copy.dcm"), user=clinician)
    assert again.pk == first.pk
    assert Radiograph.objects.count() == 1 and Prediction.objects.count() == 1
    assert len(sent_tasks) == 1
    assert len(_stored_files(settings)) == 1


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (builders.ct_slice, "CT images are not accepted: only projection radiographs"),
        (builders.multi_frame, "3 frames"),
        (
            builders.unsupported_syntax,
            r"transfer syntax MPEG2 Main Profile / Main Level \(1\.2\.840\.10008\.1\.2\.4\.100\)",
        ),
        (lambda: builders.dicom_bytes()[:700], "The DICOM file was refused"),
    ],
    ids=["ct", "multi-frame", "unsupported-syntax", "truncated"],
)
def test_unusable_dicom_is_refused_and_leaves_nothing(case, clinician, settings, make, message):
    with pytest.raises(UploadRejected, match=message):
        services.radiograph_upload(case=case, file=_upload(make()), user=clinician)
    assert not Radiograph.objects.exists() and not DicomInstance.objects.exists()
    assert _stored_files(settings) == []


def test_a_patient_id_other_than_the_case_mrn_is_flagged(case, clinician):
    services.radiograph_upload(case=case, file=_upload(builders.dicom_bytes(patient_id="MRN-OTHER")), user=clinician)
    flag = CaseFlag.objects.get(case=case)
    assert flag.kind == CaseFlag.Kind.PATIENT_ID_MISMATCH and "MRN-OTHER" in flag.message


def test_different_demographics_on_the_same_mrn_are_flagged_never_overwritten(case, clinician, patient):
    data = builders.dicom_bytes(patient_name="Byron^Augusta Ada", birth_date="19851211")
    services.radiograph_upload(case=case, file=_upload(data), user=clinician)
    flag = CaseFlag.objects.get(case=case)
    assert flag.kind == CaseFlag.Kind.DEMOGRAPHICS_MISMATCH
    assert "Augusta Ada Byron" in flag.message and "1985-12-11" in flag.message
    patient.refresh_from_db()
    assert (patient.name, str(patient.date_of_birth)) == ("Ada Lovelace", "1985-12-10")


def test_name_order_and_case_are_not_a_mismatch(case, clinician):
    services.radiograph_upload(
        case=case, file=_upload(builders.dicom_bytes(patient_name="LOVELACE^ADA")), user=clinician
    )
    assert not CaseFlag.objects.exists()


# API ------------------------------------------------------------------------------------------


def test_api_accepts_dicom_in_the_image_field_whatever_the_content_type(api_client, case):
    data = builders.dicom_bytes(uid.RLELossless)
    response = api_client.post(
        f"/api/v1/cases/{case.pk}/radiographs/",
        {"image": SimpleUploadedFile("scan.jpg", data, content_type="application/dicom")},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["format"] == "DICOM" and body["prediction"]["status"] == "queued"
    again = api_client.post(
        f"/api/v1/cases/{case.pk}/radiographs/",
        {"image": SimpleUploadedFile("again", data, content_type="image/png")},
        format="multipart",
    )
    assert again.status_code == 202 and again.json()["id"] == body["id"]
    assert Prediction.objects.count() == 1


def test_api_refuses_a_ct_slice_with_a_clear_400(api_client, case):
    response = api_client.post(
        f"/api/v1/cases/{case.pk}/radiographs/",
        {"image": SimpleUploadedFile("ct.dcm", builders.ct_slice(), content_type="application/dicom")},
        format="multipart",
    )
    assert response.status_code == 400
    assert "CT images are not accepted" in response.json()["image"][0]


# Web ------------------------------------------------------------------------------------------


def test_pages_show_a_png_rendering_the_main_tags_and_the_flags(clinician_client, case, clinician):
    data = builders.dicom_bytes(patient_name="Someone^Else")
    radiograph = services.radiograph_upload(case=case, file=_upload(data), user=clinician)
    page = clinician_client.get(f"/radiographs/{radiograph.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "DICOM header" in html and "Computed Radiography Image Storage" in html and "WRIST" in html
    image = clinician_client.get(f"/radiographs/{radiograph.pk}/image/")
    assert image["Content-Type"] == "image/png"
    shown = b"".join(image.streaming_content)
    assert shown.startswith(b"\x89PNG") and b"Someone" not in shown and b"MRN-DCM-1" not in shown
    thumb = clinician_client.get(f"/radiographs/{radiograph.pk}/image/?thumb=1")
    assert thumb["Content-Type"] == "image/jpeg"
    case_page = clinician_client.get(f"/cases/{case.pk}/").content.decode()
    assert "Demographics differ from the record" in case_page and "Else Someone" in case_page


def test_web_form_upload_takes_dicom(clinician_client, case):
    response = clinician_client.post(f"/cases/{case.pk}/upload/", {"image": _upload(builders.dicom_bytes(), "IM1")})
    assert response.status_code == 302
    assert Radiograph.objects.get().format == "DICOM"


def test_the_worker_decodes_dicom_for_the_model(case, clinician, tiny_model):
    radiograph = services.radiograph_upload(case=case, file=_upload(builders.sixteen_bit_with_window()), user=clinician)
    prediction = radiograph.current_prediction
    services.prediction_run(prediction_id=prediction.pk)
    prediction.refresh_from_db()
    assert prediction.status == "succeeded", prediction.error
    assert prediction.model_version == tiny_model


def test_patient_records_are_not_created_by_an_upload_to_a_named_case(case, clinician):
    services.radiograph_upload(case=case, file=_upload(builders.dicom_bytes(patient_id="NEW-MRN")), user=clinician)
    assert not Patient.objects.filter(mrn="NEW-MRN").exists()
