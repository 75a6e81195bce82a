"""Clinical records: patients, cases, radiographs and the AI predictions made on them.

Decision support only: a prediction is an opinion for the clinician, never a diagnosis.
Originals are never altered: a radiograph file is written once under a random name.
Business rules live in ``diagnosis.services`` (writes) and ``diagnosis.selectors`` (reads).
"""

from __future__ import annotations

import datetime
import uuid

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from fracture_site.appendonly import AppendOnly, AppendOnlyModel


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


class BodyRegion(models.TextChoices):
    WRIST = "wrist", "Wrist"
    HAND = "hand", "Hand"
    ELBOW = "elbow", "Elbow"
    FOREARM = "forearm", "Forearm"
    HUMERUS = "humerus", "Humerus"
    SHOULDER = "shoulder", "Shoulder"
    HIP = "hip", "Hip"
    FEMUR = "femur", "Femur"
    KNEE = "knee", "Knee"
    LEG = "leg", "Leg"
    ANKLE = "ankle", "Ankle"
    FOOT = "foot", "Foot"
    SPINE = "spine", "Spine"
    OTHER = "other", "Other"


class ImageFormat(models.TextChoices):
    JPEG = "JPEG", "JPEG"
    PNG = "PNG", "PNG"
    DICOM = "DICOM", "DICOM"


class CaseStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class PredictionStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class PredictionLabel(models.TextChoices):
    FRACTURED = "fractured", "Fracture suspected"
    NOT_FRACTURED = "not_fractured", "No fracture suspected"


# Per stored format: file extension and the Content-Type it is served with.
# A DICOM original is shown through a PNG derivative (diagnosis.thumbnails).
IMAGE_EXTENSIONS = {ImageFormat.JPEG: ".jpg", ImageFormat.PNG: ".png", ImageFormat.DICOM: ".dcm"}
IMAGE_CONTENT_TYPES = {
    ImageFormat.JPEG: "image/jpeg",
    ImageFormat.PNG: "image/png",
    ImageFormat.DICOM: "application/dicom",
}


def radiograph_upload_to(instance: Radiograph, filename: str) -> str:
    """Random, non-guessable storage name; the client's filename is never used on disk."""
    extension = IMAGE_EXTENSIONS.get(instance.format, ".bin")
    return f"radiographs/{timezone.now():%Y/%m}/{uuid.uuid4().hex}{extension}"


def prediction_overlay_upload_to(instance: Prediction, filename: str) -> str:
    """Heat maps sit beside the radiographs under a random name, served only through a team-scoped view."""
    return f"overlays/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.png"


EARLIEST_BIRTH_DATE = datetime.date(1880, 1, 1)


class Patient(models.Model):
    """A patient. ``team`` registered it; teams owning any of its cases also see it."""

    mrn = models.CharField("MRN", max_length=64, unique=True, help_text="Medical record number")
    name = models.CharField(max_length=200)
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=16, choices=Sex.choices, default=Sex.UNKNOWN)
    team = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="registered_patients")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.CheckConstraint(condition=~models.Q(mrn=""), name="patient_mrn_not_empty")]

    def __str__(self) -> str:
        return f"{self.name} ({self.mrn})"

    def clean(self) -> None:
        self.mrn = (self.mrn or "").strip()
        self.name = (self.name or "").strip()
        if self.date_of_birth and not EARLIEST_BIRTH_DATE <= self.date_of_birth <= timezone.localdate():
            raise ValidationError(
                {"date_of_birth": f"Enter a date between {EARLIEST_BIRTH_DATE:%d %b %Y} and today."}, code="invalid"
            )


class Case(models.Model):
    """One clinical question about one body region of a patient, owned by a care team."""

    Status = CaseStatus

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="cases")
    team = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="cases")
    body_region = models.CharField(max_length=16, choices=BodyRegion.choices)
    clinical_question = models.TextField(blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["team", "-created_at"], name="case_team_created_idx")]

    def __str__(self) -> str:
        return f"Case {self.pk}: {self.get_body_region_display()} ({self.patient.mrn})"

    @property
    def current_sign_off(self) -> SignOff | None:
        """The newest sign-off (earlier ones were amended); uses the selectors' prefetch when present."""
        return next(iter(self.sign_offs.all()), None)


class Radiograph(models.Model):
    """An uploaded X-ray. Written once, never modified; ``original_filename`` is for display only."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="radiographs")
    image = models.FileField(upload_to=radiograph_upload_to, max_length=255)
    original_filename = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64, db_index=True)
    size_bytes = models.PositiveBigIntegerField()
    format = models.CharField(max_length=8, choices=ImageFormat.choices)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]

    def __str__(self) -> str:
        return f"Radiograph {self.pk} ({self.original_filename or self.format})"

    @property
    def current_prediction(self) -> Prediction | None:
        """The newest prediction; uses the history prefetched by the selectors when present."""
        history = getattr(self, "prediction_history", None)
        if history is None:
            return self.predictions.order_by("-created_at", "-id").first()
        return history[0] if history else None

    @property
    def latest_review(self) -> Review | None:
        """The clinician's current read of this image, whichever prediction it was recorded against."""
        history = getattr(self, "prediction_history", None)
        if history is None:
            return Review.objects.filter(prediction__radiograph=self).select_related("reader").first()
        reads = [review for prediction in history for review in prediction.reviews.all()]
        return max(reads, key=lambda review: (review.created_at, review.pk), default=None)


class Prediction(models.Model):
    """One model run on one radiograph. Re-runs add rows; the newest row is the current one."""

    Status = PredictionStatus
    Label = PredictionLabel

    radiograph = models.ForeignKey(Radiograph, on_delete=models.PROTECT, related_name="predictions")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    # NULL (not "") until a run succeeds: the API contract reports "label": null while pending.
    label = models.CharField(max_length=16, choices=Label.choices, null=True, blank=True)  # noqa: DJ001
    probability = models.FloatField(null=True, blank=True, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    threshold = models.FloatField(null=True, blank=True, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    model_version = models.CharField(max_length=100, blank=True, db_index=True)  # counted per version (admin)
    # Which of the model card's thresholds ``threshold`` is (its operating point, e.g. "balanced"); "" until a
    # run succeeds.
    threshold_name = models.CharField(max_length=32, blank=True)
    inference_ms = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    # Heat map (class activation map) of a succeeded run, for model versions that produce one.
    overlay = models.FileField(upload_to=prediction_overlay_upload_to, blank=True, max_length=200)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When the task message was handed to the broker; NULL while the broker could not be reached.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        get_latest_by = ["created_at", "id"]
        indexes = [models.Index(fields=["status", "created_at"], name="prediction_status_created_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(probability__isnull=True) | models.Q(probability__gte=0, probability__lte=1),
                name="prediction_probability_range",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="succeeded") | models.Q(label__isnull=False, probability__isnull=False),
                name="prediction_succeeded_has_result",
            ),
        ]

    def __str__(self) -> str:
        return f"Prediction {self.pk} ({self.status})"

    @property
    def is_pending(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def label_at_point(self) -> str | None:
        """The label at the team's operating point (``selectors`` annotate it); else the stored label."""
        suspected = getattr(self, "suspected_at_point", None)
        if self.status != self.Status.SUCCEEDED or suspected is None:
            return self.label
        return self.Label.FRACTURED if suspected else self.Label.NOT_FRACTURED


# Audit trail ----------------------------------------------------------------------------------


class AuditAction(models.TextChoices):
    LOGIN = "login", "Logged in"
    LOGOUT = "logout", "Logged out"
    LOGIN_FAILED = "login_failed", "Failed log-in"
    VIEW_PATIENT = "view_patient", "Viewed patient"
    VIEW_CASE = "view_case", "Viewed case"
    VIEW_RADIOGRAPH = "view_radiograph", "Viewed radiograph"
    VIEW_IMAGE = "view_image", "Viewed image"
    VIEW_PREDICTION = "view_prediction", "Viewed prediction"
    CREATE = "create", "Created record"
    EDIT = "edit", "Edited record"
    UPLOAD = "upload", "Uploaded radiograph"
    PREDICTION_FINISHED = "prediction_finished", "Prediction finished"
    EXPORT = "export", "Exported data"
    ADMIN_CHANGE = "admin_change", "Admin change"
    REVIEW = "review", "Recorded a read"
    SIGN_OFF = "sign_off", "Signed off a case"
    MODEL_ACTIVATION = "model_activation", "Activated a model version"
    MODEL_ROLLBACK = "model_rollback", "Rolled back the model version"


class AuditEventQuerySet(models.QuerySet):
    """Bulk writes that would rewrite history are refused; ``create`` and reads work as usual."""

    def update(self, **kwargs: object) -> int:
        raise AppendOnly("audit events cannot be updated")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnly("audit events cannot be deleted")

    def bulk_update(self, objs: object, fields: object, batch_size: int | None = None) -> int:
        raise AppendOnly("audit events cannot be updated")

    def update_or_create(self, *args: object, **kwargs: object) -> tuple[AuditEvent, bool]:
        raise AppendOnly("audit events cannot be updated")


class AuditEvent(models.Model):
    """Who did what, when and from where. Append-only: written by ``diagnosis.audit`` only.

    ``actor_username`` and ``description`` are snapshots, so an entry stays readable after the
    user or the object is renamed or removed. On PostgreSQL a trigger (migration 0003) also
    refuses UPDATE and DELETE, except nulling ``actor``/``team`` when a user or team is deleted.
    """

    Action = AuditAction

    timestamp = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=32, choices=Action.choices, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    description = models.CharField(max_length=255, blank=True)
    team = models.ForeignKey(Group, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)
    path = models.CharField(max_length=255, blank=True)
    extra = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-timestamp", "-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
            models.Index(fields=["actor", "-timestamp"], name="audit_actor_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.timestamp:%Y-%m-%d %H:%M:%S} {self.actor_username or '-'} {self.action}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise AppendOnly("audit events cannot be changed")
        # Forced INSERT: a new instance given an existing pk must fail, not overwrite that row.
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise AppendOnly("audit events cannot be deleted")


# Clinical reading -----------------------------------------------------------------------------
# The clinician's side, kept beside the AI's output and never instead of it. Both are append-only:
# a later read or sign-off supersedes an earlier one, which stays in the history.

NOTE_MAX_LENGTH = 2000
IMPRESSION_MAX_LENGTH = 5000


class ReadChoice(models.TextChoices):
    FRACTURE = "fracture", "Fracture"
    NO_FRACTURE = "no_fracture", "No fracture"
    UNCERTAIN = "uncertain", "Uncertain"


# The AI label a read agrees with; "uncertain" agrees with neither.
READ_AGREES_WITH = {
    ReadChoice.FRACTURE: PredictionLabel.FRACTURED,
    ReadChoice.NO_FRACTURE: PredictionLabel.NOT_FRACTURED,
}


class Review(AppendOnlyModel):
    """A clinician's read of one image, recorded against the AI prediction they saw."""

    Read = ReadChoice

    prediction = models.ForeignKey(Prediction, on_delete=models.PROTECT, related_name="reviews")
    reader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    read = models.CharField(max_length=16, choices=Read.choices)
    note = models.TextField(blank=True, validators=[MaxLengthValidator(NOTE_MAX_LENGTH)])
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["prediction", "-created_at"], name="review_prediction_created_idx")]

    def __str__(self) -> str:
        return f"Read {self.pk}: {self.get_read_display()} by {self.reader}"

    @property
    def agrees_with_ai(self) -> bool | None:
        """True/False against a finished AI opinion; None when the read is uncertain or the AI has no label."""
        expected = READ_AGREES_WITH.get(self.read)
        if expected is None or not self.prediction.label:
            return None
        return self.prediction.label == expected


class FinalStatus(models.TextChoices):
    FRACTURE = "fracture", "Fracture"
    NO_FRACTURE = "no_fracture", "No fracture"
    FOLLOW_UP = "follow_up", "Indeterminate: follow-up imaging"


class SignOff(AppendOnlyModel):
    """A clinician's impression and final status of a case; the newest one is the current report."""

    FinalStatus = FinalStatus

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="sign_offs")
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    impression = models.TextField(validators=[MaxLengthValidator(IMPRESSION_MAX_LENGTH)])
    final_status = models.CharField(max_length=16, choices=FinalStatus.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["case", "-created_at"], name="signoff_case_created_idx")]

    def __str__(self) -> str:
        return f"Sign-off {self.pk} of case {self.case_id}: {self.get_final_status_display()}"


class OperatingPoint(models.TextChoices):
    """Names of the thresholds in a model card (``thresholds``): the team decides which one it reads at."""

    BALANCED = "balanced", "Balanced"
    HIGH_SENSITIVITY = "high_sensitivity", "High sensitivity"


class TeamSettings(models.Model):
    """Per care team (``auth.Group``) choices, set by administrators."""

    OperatingPoint = OperatingPoint

    team = models.OneToOneField(Group, on_delete=models.CASCADE, related_name="settings")
    operating_point = models.CharField(
        max_length=20,
        choices=OperatingPoint.choices,
        default=OperatingPoint.BALANCED,
        help_text="Which of the model card's thresholds marks an image as a suspected fracture for this team.",
    )

    class Meta:
        verbose_name = "team settings"
        verbose_name_plural = "team settings"

    def __str__(self) -> str:
        return f"Settings of {self.team}"


# DICOM records live in their own module; imported here so they belong to this app.
from diagnosis.dicom.models import CaseFlag, DicomCallingAE, DicomInstance, DicomStudy  # noqa: E402, F401
