"""Rows written once: the base for records that form a history (reads, sign-offs, activations).

Any app may use it without depending on another app. A save of an existing row, a delete and
bulk updates or deletes are refused with ``AppendOnly`` (a ``PermissionDenied``: a 403 if it
reaches a view).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import models


class AppendOnly(PermissionDenied):
    """An append-only row may be written once and never changed or removed."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: object) -> int:
        raise AppendOnly(f"{self.model._meta.verbose_name_plural} cannot be updated")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnly(f"{self.model._meta.verbose_name_plural} cannot be deleted")


class AppendOnlyModel(models.Model):
    """Written once: ``save`` of an existing row and ``delete`` are refused."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise AppendOnly(f"a {self._meta.verbose_name} cannot be changed")
        # Forced INSERT: a new instance given an existing pk must fail, not overwrite that row.
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise AppendOnly(f"a {self._meta.verbose_name} cannot be deleted")
