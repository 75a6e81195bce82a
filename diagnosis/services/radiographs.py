"""Radiograph upload: validated, stored under a random name, queued for the model in one transaction."""

from __future__ import annotations

from typing import IO

from django.contrib.auth.models import AbstractBaseUser
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from diagnosis import selectors
from diagnosis.audit import Action, audit_record
from diagnosis.models import Case, Prediction, Radiograph
from diagnosis.services.dicom_records import dicom_instance_existing, dicom_instance_record
from diagnosis.services.predictions import prediction_enqueue
from diagnosis.services.records import save_validated
from diagnosis.validation import DuplicateRadiograph, UploadRejected, ValidatedImage, validate_radiograph


def radiograph_upload(*, case: Case, file: IO[bytes] | File, user: AbstractBaseUser) -> Radiograph:
    """Validate and store an X-ray, create it with a queued prediction, enqueue the model run.

    Raises ``UploadRejected`` for bad input, and its subclass ``DuplicateRadiograph`` (holding
    the existing radiograph) when the same bytes are already in this case: no second radiograph
    and no second model run. On any failure no row and no stored file remain.
    The task is sent only after commit; if the broker is down the upload is kept as ``queued``
    and ``diagnosis.tasks.sweep_stale_predictions`` dispatches it later. A DICOM instance this
    case's team already holds (same SOPInstanceUID) returns the radiograph made the first time.

    ``case`` as ``selectors.case_for_upload`` returned it for this user is used as it is (the
    one visibility check); any other case object is looked up through that selector first.
    """
    if getattr(case, "checked_for", None) != user.pk:
        case = selectors.case_for_upload(user=user, pk=case.pk)
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
    DICOM node's filing (``diagnosis.services.dicom_filing``), which passes what it validated.

    The file is read once, by validation; the stored original is that same buffer
    (``ValidatedImage.data``). ``case`` needs its ``team`` (and for DICOM its ``patient``) loaded.
    """
    if case.status != Case.Status.OPEN:
        raise UploadRejected("The case is closed; reopen it before adding radiographs.", code="case_closed")
    checked = checked or validate_radiograph(file)
    if checked.dicom is not None:
        # A DICOM instance is identified by its SOPInstanceUID: a repeat (a PACS resending, or
        # the same file uploaded again) returns the radiograph made the first time.
        repeated = dicom_instance_existing(team=case.team, header=checked.dicom)
        if repeated is not None:
            return repeated
    _refuse_duplicate(case=case, sha256=checked.sha256)  # cheap early answer, before writing the file
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
    radiograph.image.save("upload", ContentFile(checked.data), save=False)
    try:
        with transaction.atomic():
            # Checked again under the case's row lock: two simultaneous uploads of one file
            # cannot both pass (on SQLite the IMMEDIATE transaction serialises writers anyway).
            Case.objects.select_for_update().only("pk").get(pk=case.pk)
            _refuse_duplicate(case=case, sha256=checked.sha256)
            save_validated(radiograph, exclude=["case"])  # the case row exists: it is locked above
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


def _refuse_duplicate(*, case: Case, sha256: str) -> None:
    existing = Radiograph.objects.filter(case=case, sha256=sha256).order_by("uploaded_at", "id").first()
    if existing is not None:
        raise DuplicateRadiograph(existing)
