"""Radiograph upload: validated, stored under a random name, queued for the model in one transaction."""

from __future__ import annotations

from typing import IO

from django.contrib.auth.models import AbstractBaseUser
from django.core.files import File
from django.db import IntegrityError, transaction

from diagnosis import selectors
from diagnosis.audit import Action, audit_record
from diagnosis.models import Case, Prediction, Radiograph
from diagnosis.services.dicom_records import dicom_instance_existing, dicom_instance_record
from diagnosis.services.predictions import prediction_enqueue
from diagnosis.services.records import save_validated
from diagnosis.validation import UploadRejected, ValidatedImage, validate_radiograph


def radiograph_upload(*, case: Case, file: IO[bytes] | File, user: AbstractBaseUser) -> Radiograph:
    """Validate and store an X-ray, create it with a queued prediction, enqueue the model run.

    Raises ``UploadRejected`` for bad input. On any failure no row and no stored file remain.
    The task is sent only after commit; if the broker is down the upload is kept as ``queued``
    and ``diagnosis.tasks.sweep_stale_predictions`` dispatches it later. A DICOM instance this
    case's team already holds (same SOPInstanceUID) returns the radiograph made the first time.
    """
    selectors.case_ensure_visible(user=user, pk=case.pk)
    return radiograph_store(case=case, file=file, uploaded_by=user)


def radiograph_store(
    *,
    case: Case,
    file: IO[bytes] | File,
    uploaded_by: AbstractBaseUser | None = None,
    actor_name: str = "",
    calling_ae_title: str = "",
    checked: ValidatedImage | None = None,
) -> Radiograph:
    """The upload once the case is settled: by a visible case (``radiograph_upload``) or by the
    DICOM node's filing (``diagnosis.services.dicom_filing``), which passes what it validated."""
    if case.status != Case.Status.OPEN:
        raise UploadRejected("The case is closed; reopen it before adding radiographs.", code="case_closed")
    checked = checked or validate_radiograph(file)
    if checked.dicom is not None:
        repeated = dicom_instance_existing(team=case.team, header=checked.dicom)
        if repeated is not None:
            return repeated
    upload = file if isinstance(file, File) else File(file)
    radiograph = Radiograph(
        case=case,
        original_filename=checked.original_filename,
        sha256=checked.sha256,
        size_bytes=checked.size_bytes,
        format=checked.format,
        width=checked.width,
        height=checked.height,
        uploaded_by=uploaded_by,
    )
    # The storage name comes from ``radiograph_upload_to`` (random); "upload" is ignored.
    radiograph.image.save("upload", upload, save=False)
    try:
        with transaction.atomic():
            save_validated(radiograph)
            if checked.dicom is not None:
                dicom_instance_record(radiograph=radiograph, header=checked.dicom, calling_ae_title=calling_ae_title)
            prediction = Prediction.objects.create(radiograph=radiograph)
            audit_record(
                actor=uploaded_by, actor_name=actor_name, action=Action.UPLOAD, obj=radiograph, sha256=checked.sha256
            )
            transaction.on_commit(lambda: prediction_enqueue(prediction_id=prediction.pk))
    except IntegrityError:
        radiograph.image.storage.delete(radiograph.image.name)
        # The same SOP instance stored by a simultaneous request: that one stands.
        repeated = checked.dicom and dicom_instance_existing(team=case.team, header=checked.dicom)
        if repeated:
            return repeated
        raise
    except BaseException:
        radiograph.image.storage.delete(radiograph.image.name)
        raise
    return radiograph
