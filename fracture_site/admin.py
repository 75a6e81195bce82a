"""Admin rules shared by every app's admin (diagnosis, inference, shadow)."""

from __future__ import annotations

from django.http import HttpRequest


class ReadOnly:
    """Records written by services or the model: visible for audit, never edited here."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
