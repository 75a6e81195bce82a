"""Writes (STYLE.md): keyword-only, typed ``<entity>_<action>`` functions; the only home of the rules.

Every write validates with ``full_clean()`` inside ``transaction.atomic``. Callers pass objects
obtained through ``diagnosis.selectors``; the services check visibility again where it matters.
"""

from __future__ import annotations

from diagnosis.services.predictions import (
    SweepResult,
    prediction_claim,
    prediction_enqueue,
    prediction_fail,
    prediction_requeue,
    prediction_run,
    prediction_sweep_stale,
)
from diagnosis.services.radiographs import radiograph_upload
from diagnosis.services.records import case_create, case_update, patient_create, patient_update
from diagnosis.services.reviews import case_sign_off, review_create
from diagnosis.validation import DuplicateRadiograph, UploadRejected

__all__ = [
    "DuplicateRadiograph",
    "SweepResult",
    "UploadRejected",
    "case_create",
    "case_sign_off",
    "case_update",
    "patient_create",
    "patient_update",
    "prediction_claim",
    "prediction_enqueue",
    "prediction_fail",
    "prediction_requeue",
    "prediction_run",
    "prediction_sweep_stale",
    "radiograph_upload",
    "review_create",
]
