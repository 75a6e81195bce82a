"""DICOM records: the instance behind a radiograph, the study behind a case, case flags, callers.

Imported by ``diagnosis.models`` (so they belong to the ``diagnosis`` app); references are by
name so this module imports no other model module.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class DicomInstance(models.Model):
    """The DICOM identity of a radiograph that arrived as DICOM. One per SOP instance and team."""

    radiograph = models.OneToOneField("diagnosis.Radiograph", on_delete=models.PROTECT, related_name="dicom")
    team = models.ForeignKey("auth.Group", on_delete=models.PROTECT, related_name="+")
    sop_instance_uid = models.CharField("SOP instance UID", max_length=64)
    sop_class_uid = models.CharField("SOP class UID", max_length=64, blank=True)
    study_instance_uid = models.CharField("study instance UID", max_length=64, blank=True)
    series_instance_uid = models.CharField("series instance UID", max_length=64, blank=True)
    accession_number = models.CharField(max_length=16, blank=True)
    modality = models.CharField(max_length=16, blank=True)
    patient_id = models.CharField("patient ID", max_length=64, blank=True)
    transfer_syntax_uid = models.CharField("transfer syntax UID", max_length=64)
    calling_ae_title = models.CharField("calling AE title", max_length=16, blank=True)
    # The main header tags as display text (label -> value), for the metadata view.
    tags = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "DICOM instance"
        constraints = [
            models.UniqueConstraint(fields=["team", "sop_instance_uid"], name="dicom_instance_once_per_team"),
        ]

    def __str__(self) -> str:
        return f"DICOM {self.sop_instance_uid}"


class DicomStudy(models.Model):
    """Which case a DICOM study (StudyInstanceUID, AccessionNumber) is filed under, per team."""

    case = models.ForeignKey("diagnosis.Case", on_delete=models.PROTECT, related_name="dicom_studies")
    team = models.ForeignKey("auth.Group", on_delete=models.PROTECT, related_name="+")
    study_instance_uid = models.CharField("study instance UID", max_length=64)
    accession_number = models.CharField(max_length=16, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "DICOM study"
        verbose_name_plural = "DICOM studies"
        constraints = [
            models.UniqueConstraint(fields=["team", "study_instance_uid"], name="dicom_study_once_per_team"),
        ]

    def __str__(self) -> str:
        return f"Study {self.study_instance_uid} -> case {self.case_id}"


class CaseFlagKind(models.TextChoices):
    DEMOGRAPHICS_MISMATCH = "demographics_mismatch", "Demographics differ from the record"
    PATIENT_ID_MISMATCH = "patient_id_mismatch", "Patient ID differs from the case's MRN"


class CaseFlag(models.Model):
    """Something a clinician must check on a case; the record itself is never changed by it."""

    Kind = CaseFlagKind

    case = models.ForeignKey("diagnosis.Case", on_delete=models.PROTECT, related_name="flags")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    message = models.CharField(max_length=500)
    radiograph = models.ForeignKey(
        "diagnosis.Radiograph", on_delete=models.PROTECT, null=True, blank=True, related_name="flags"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.message}"


class DicomCallingAE(models.Model):
    """A modality or PACS allowed to send to the DICOM node, and the team its studies go to."""

    ae_title = models.CharField("calling AE title", max_length=16, unique=True)
    team = models.ForeignKey("auth.Group", on_delete=models.PROTECT, related_name="dicom_callers")
    description = models.CharField(max_length=200, blank=True)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "DICOM calling AE"
        ordering = ["ae_title"]

    def __str__(self) -> str:
        return f"{self.ae_title} -> {self.team}"

    def clean(self) -> None:
        self.ae_title = (self.ae_title or "").strip()
