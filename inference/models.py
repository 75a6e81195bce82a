"""Registered model versions, for the admin: what was trained, how it scored, what is served."""

from __future__ import annotations

from django.db import models


class ModelVersion(models.Model):
    version = models.CharField(max_length=100, unique=True)
    architecture = models.CharField(max_length=50)
    created_at = models.DateTimeField()
    registered_at = models.DateTimeField(auto_now_add=True)
    metrics = models.JSONField(default=dict, blank=True)
    card = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.version

    @property
    def is_active(self) -> bool:
        # Derived, not stored: the served version is decided by settings and the folder on disk,
        # so a stored flag could disagree with what workers actually load.
        from inference.registry import ModelUnavailable, resolve_version_dir

        try:
            return resolve_version_dir().name == self.version
        except ModelUnavailable:
            return False
