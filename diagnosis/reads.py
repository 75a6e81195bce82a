"""Clinicians' own reads of a radiograph: the seam between the AI opinion and the clinician's.

No review model exists yet (a separate feature adds reviews). Until it lands there are no reads:
the FHIR report stays ``preliminary`` and ``export_dataset --reviewed-only`` refuses to run.
When reviews exist, ``clinician_reads`` returns them here and both follow without other changes
(``tests/fhir/test_report.py`` and ``tests/dicom/test_export.py`` check that path).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from diagnosis.models import Prediction


@dataclass(frozen=True)
class ClinicianRead:
    read: str  # "fracture" | "no_fracture" | "uncertain"
    note: str
    clinician: str  # display name
    recorded_at: datetime.datetime


def clinician_reads(prediction: Prediction) -> list[ClinicianRead]:
    """The clinicians' reads of this prediction, newest first (none until reviews exist)."""
    return []


def any_clinician_reads() -> bool:
    """Whether any read is recorded at all (none until reviews exist)."""
    return False
