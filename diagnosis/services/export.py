"""De-identified dataset export: images in the training layout, with a manifest, nothing identifying.

``DIR/{fractured,not fractured}/NNNNNN.{dcm,jpg,png}`` and ``DIR/manifest.csv``. DICOM files are
de-identified (``diagnosis.dicom.deid``: PS3.15 basic profile through dicognito, one anonymizer
per patient); JPEG and PNG files lose every metadata block (``diagnosis.metadata``). File names
are sequence numbers, never the uploaded names. The label is the clinician's current read (the
newest, whichever prediction it was recorded against) where one exists, else the AI opinion; an
image whose current read is "uncertain" is not exported. The manifest says where each label came
from (``label_source``: clinician or model) and the model version of the prediction behind it
(for a read: the prediction the clinician saw), which ``retrain --extra`` checks. Written to a
temporary folder that is renamed when complete: a failed export leaves nothing behind.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dicognito.anonymizer import Anonymizer
from django.contrib.auth.models import Group
from django.db.models import QuerySet

from diagnosis.audit import Action, audit_record
from diagnosis.dicom.deid import DeidentificationRefused, deidentify
from diagnosis.metadata import MetadataError, strip_metadata
from diagnosis.models import IMAGE_EXTENSIONS, ImageFormat, Prediction, Radiograph, Review
from diagnosis.reads import any_clinician_reads

LABEL_FOLDERS = {"fractured": "fractured", "not_fractured": "not fractured"}
_READ_LABELS = {"fracture": "fractured", "no_fracture": "not_fractured"}  # "uncertain" is not exported
MANIFEST_COLUMNS = ("file", "label", "label_source", "ai_probability", "ai_threshold", "model_version",
                    "body_region", "format")  # fmt: skip


class ExportRefused(ValueError):
    """The export cannot run as asked; nothing was written."""


@dataclass
class ExportResult:
    out: Path
    written: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def _radiographs(team: Group | None) -> QuerySet[Radiograph]:
    radiographs = Radiograph.objects.select_related("case", "case__patient").order_by("case__patient_id", "pk")
    return radiographs.filter(case__team=team) if team is not None else radiographs


def current_read(radiograph: Radiograph) -> Review | None:
    """The clinician's current read of the image: the newest, whichever prediction it was recorded against."""
    reads = Review.objects.filter(prediction__radiograph=radiograph).select_related("prediction")
    return reads.order_by("-created_at", "-id").first()


def _label(radiograph: Radiograph, *, reviewed_only: bool) -> tuple[str, str, Prediction] | str:
    """``(label, source, prediction)``, or why the image is not exported."""
    review = current_read(radiograph)
    if review is not None:
        label = _READ_LABELS.get(review.read)
        return (label, "clinician", review.prediction) if label else f"{review.read} read"
    if reviewed_only:
        return "no clinician read"
    prediction = radiograph.predictions.filter(status=Prediction.Status.SUCCEEDED).order_by("-created_at").first()
    return (prediction.label, "model", prediction) if prediction is not None else "no label"


def _decimal(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def dataset_export(
    *,
    out: Path,
    reviewed_only: bool = False,
    team: Group | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExportResult:
    """Write the export to ``out`` (which must not exist yet)."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportRefused(f"{out} is not empty; choose a new folder")
    if reviewed_only and not any_clinician_reads():
        raise ExportRefused("no clinician reads are recorded yet, so --reviewed-only has nothing to export")
    staging = out.with_name(f".{out.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    for folder in LABEL_FOLDERS.values():
        (staging / folder).mkdir(parents=True)
    result = ExportResult(out=out)
    anonymizers: dict[int, Anonymizer] = {}  # one per patient: consistent UIDs, one date shift
    radiographs = _radiographs(team)
    total = radiographs.count()
    try:
        with (staging / "manifest.csv").open("w", newline="") as handle:
            manifest = csv.writer(handle)
            manifest.writerow(MANIFEST_COLUMNS)
            for index, radiograph in enumerate(radiographs.iterator(chunk_size=200), start=1):
                if progress:
                    progress(index, total)
                labelled = _label(radiograph, reviewed_only=reviewed_only)
                if isinstance(labelled, str):
                    result.skip(labelled)
                    continue
                label, source, prediction = labelled
                with radiograph.image.open("rb") as original:
                    data = original.read()
                try:
                    if radiograph.format == ImageFormat.DICOM:
                        patient = radiograph.case.patient_id
                        cleaned = deidentify(data, anonymizers.setdefault(patient, Anonymizer()))
                    else:
                        cleaned = strip_metadata(data, radiograph.format)
                except (DeidentificationRefused, MetadataError) as exc:
                    result.skip(str(exc))
                    continue
                name = f"{LABEL_FOLDERS[label]}/{result.written + 1:06d}{IMAGE_EXTENSIONS[radiograph.format]}"
                (staging / name).write_bytes(cleaned)
                manifest.writerow(
                    (name, label, source, _decimal(prediction.probability), _decimal(prediction.threshold),
                     prediction.model_version, radiograph.case.body_region, radiograph.format)
                )  # fmt: skip
                result.written += 1
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.exists():
            out.rmdir()  # empty (checked above)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    audit_record(
        actor=None,
        actor_name="export_dataset",
        action=Action.EXPORT,
        target=("dataset", str(out)[:64]),
        description=f"de-identified dataset export: {result.written} images",
        written=result.written,
        skipped=result.skipped,
        reviewed_only=reviewed_only,
        team=team.name if team else "",
    )
    return result
