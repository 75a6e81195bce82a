"""Shadow runs: a candidate model version run on recent radiographs, stored apart from predictions.

Nothing here is a clinical result. Shadow predictions live in their own table, which no
clinician page, API route or FHIR report reads; the admin shows only figures computed from them.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from diagnosis.models import Prediction, Radiograph
from inference.models import ModelVersion

MAX_RADIOGRAPHS = 5000


class ShadowStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class ShadowRun(models.Model):
    """One candidate version on the last ``n_requested`` radiographs with a finished prediction."""

    Status = ShadowStatus

    candidate = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="shadow_runs")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    n_requested = models.PositiveIntegerField(
        "radiographs requested", validators=[MinValueValidator(1), MaxValueValidator(MAX_RADIOGRAPHS)]
    )
    # The newest succeeded prediction when the run was started: the run covers radiographs whose
    # stored result is no newer, so a takeover after a lost worker picks the same images.
    cutoff_prediction_id = models.BigIntegerField(null=True, blank=True)
    n_selected = models.PositiveIntegerField("radiographs selected", default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    done = models.PositiveIntegerField(default=0)
    # The candidate's card thresholds when it ran, per operating point.
    thresholds = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Shadow run {self.pk}"

    @property
    def is_pending(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)


class ShadowPrediction(models.Model):
    """The candidate's output on one radiograph, beside the stored prediction it is compared with."""

    run = models.ForeignKey(ShadowRun, on_delete=models.CASCADE, related_name="predictions")
    radiograph = models.ForeignKey(Radiograph, on_delete=models.PROTECT, related_name="+")
    # The stored (clinically shown) prediction of the same image that the candidate is compared with.
    reference = models.ForeignKey(Prediction, on_delete=models.PROTECT, related_name="+")
    probability = models.FloatField(validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    # Label at each operating point of the candidate's card: {"balanced": "fractured", ...}.
    labels = models.JSONField(default=dict)
    inference_ms = models.FloatField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run", "id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "radiograph"], name="shadow_prediction_once_per_run"),
            models.CheckConstraint(
                condition=models.Q(probability__gte=0, probability__lte=1), name="shadow_probability_range"
            ),
        ]

    def __str__(self) -> str:
        return f"Shadow prediction {self.pk} (run {self.run_id})"
