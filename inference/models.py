"""Registered model versions and their activations: what was trained, how it scored, what is served.

A version registered by ``retrain``, ``rethreshold`` or ``register_models`` is a candidate: it
serves nothing until an administrator activates it. The served version is the one named by the
newest ``ModelActivation`` (``FRACTURE_MODEL`` overrides it per process).
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.utils import timezone

from fracture_site.appendonly import AppendOnlyModel, AppendOnlyQuerySet

REASON_MAX_LENGTH = 2000


class ModelVersion(models.Model):
    version = models.CharField(max_length=100, unique=True)
    architecture = models.CharField(max_length=50)
    created_at = models.DateTimeField()
    registered_at = models.DateTimeField(auto_now_add=True)
    metrics = models.JSONField(default=dict, blank=True)
    card = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("activate_modelversion", "Can activate a model version (or roll back)")]

    def __str__(self) -> str:
        return self.version

    @property
    def is_active(self) -> bool:
        """Named by the newest activation (what workers serve unless ``FRACTURE_MODEL`` overrides)."""
        newest = ModelActivation.objects.newest()
        return newest is not None and newest.version_id == self.pk


class ModelActivationQuerySet(AppendOnlyQuerySet):
    def newest(self) -> ModelActivation | None:
        # Activations are only ever appended, so the highest id is the newest: one index lookup.
        return self.select_related("version").order_by("-pk").first()


class ModelActivation(AppendOnlyModel):
    """An administrator made ``version`` the served one: who, when, why, and what it replaced.

    Append-only (a rollback is a new activation of the earlier version), so the list of rows is
    the full history of what was served when.
    """

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="activations")
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    activated_at = models.DateTimeField(default=timezone.now)
    reason = models.TextField(validators=[MaxLengthValidator(REASON_MAX_LENGTH)])
    previous = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    is_rollback = models.BooleanField(default=False)

    objects = ModelActivationQuerySet.as_manager()

    class Meta:
        ordering = ["-pk"]
        get_latest_by = "pk"

    def __str__(self) -> str:
        who = self.activated_by or "system"
        return f"{self.version} activated {self.activated_at:%Y-%m-%d %H:%M} by {who}"
