"""Clinicians' own reads of a radiograph: the seam between the AI opinion and the clinician's.

The reads are ``Review`` rows (``diagnosis.services.review_create``): with none, the FHIR report
stays ``preliminary`` and ``export_dataset --reviewed-only`` refuses to run; with one, the report
is ``final`` and carries the latest read (``tests/fhir/test_report.py``, ``tests/dicom/test_export.py``).
Callers pass a prediction they obtained through a scoped selector; its reads are as visible as it is.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from diagnosis.models import Prediction, Review


@dataclass(frozen=True)
class ClinicianRead:
    read: str  # "fracture" | "no_fracture" | "uncertain"
    note: str
    clinician: str  # display name
    recorded_at: datetime.datetime


def clinician_reads(prediction: Prediction) -> list[ClinicianRead]:
    """The clinicians' reads of this prediction, newest first (the selectors' prefetch when present)."""
    return [
        ClinicianRead(
            read=review.read,
            note=review.note,
            clinician=review.reader.get_full_name() or review.reader.get_username(),
            recorded_at=review.created_at,
        )
        for review in prediction.reviews.all()
    ]


def any_clinician_reads() -> bool:
    """Whether any read is recorded at all."""
    return Review.objects.exists()
