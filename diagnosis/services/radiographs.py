"""Radiograph upload: validated, stored under a random name, queued for the model in one transaction."""

from __future__ import annotations

from typing import IO

from django.contrib.auth.models import AbstractBaseUser
from django.core.files import File
from django.db import transaction

from diagnosis import selectors
from diagnosis.audit import Action, audit_record
from diagnosis.models import Case, Prediction, Radiograph
from diagnosis.services.predictions import prediction_enqueue
from diagnosis.services.records import save_validated
from diagnosis.validation import DuplicateRadiograph, UploadRejected, validate_radiograph


def radiograph_upload(*, case: Case, file: IO[bytes] | File, user: AbstractBaseUser) -> Radiograph:
    """Validate and store an X-ray, create it with a queued prediction, enqueue the model run.

    Raises ``UploadRejected`` for bad input, and its subclass ``DuplicateRadiograph`` (holding
    the existing radiograph) when the same bytes are already in this case: no second radiograph
    and no second model run. On any failure no row and no stored file remain.
    The task is sent only after commit; if the broker is down the upload is kept as ``queued``
    and ``diagnosis.tasks.sweep_stale_predictions`` dispatches it later.
    """
    selectors.case_ensure_visible(user=user, pk=case.pk)
    if case.status != Case.Status.OPEN:
        raise UploadRejected("The case is closed; reopen it before adding radiographs.", code="case_closed")
    checked = validate_radiograph(file)
    _refuse_duplicate(case=case, sha256=checked.sha256)  # cheap early answer, before writing the file
    upload = file if isinstance(file, File) else File(file)
    radiograph = Radiograph(
        case=case,
        original_filename=checked.original_filename,
        sha256=checked.sha256,
        size_bytes=checked.size_bytes,
        format=checked.format,
        width=checked.width,
        height=checked.height,
        uploaded_by=user,
    )
    # The storage name comes from ``radiograph_upload_to`` (random); "upload" is ignored.
    radiograph.image.save("upload", upload, save=False)
    try:
        with transaction.atomic():
            # Checked again under the case's row lock: two simultaneous uploads of one file
            # cannot both pass (on SQLite the IMMEDIATE transaction serialises writers anyway).
            Case.objects.select_for_update().only("pk").get(pk=case.pk)
            _refuse_duplicate(case=case, sha256=checked.sha256)
            save_validated(radiograph)
            prediction = Prediction.objects.create(radiograph=radiograph)
            audit_record(actor=user, action=Action.UPLOAD, obj=radiograph, sha256=checked.sha256)
            transaction.on_commit(lambda: prediction_enqueue(prediction_id=prediction.pk))
    except BaseException:
        radiograph.image.storage.delete(radiograph.image.name)
        raise
    return radiograph


def _refuse_duplicate(*, case: Case, sha256: str) -> None:
    existing = Radiograph.objects.filter(case=case, sha256=sha256).order_by("uploaded_at", "id").first()
    if existing is not None:
        raise DuplicateRadiograph(existing)
