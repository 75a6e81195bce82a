"""Admin for the DICOM node: which calling AE titles may send, and to which care team.

Routing decides which team sees a hospital's images, so only superusers manage it. Instances
and flags are read-only records for audit.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from diagnosis import selectors
from diagnosis.models import CaseFlag, DicomCallingAE, DicomInstance
from fracture_site.admin import ReadOnly


@admin.register(DicomCallingAE)
class DicomCallingAEAdmin(admin.ModelAdmin):
    list_display = ("ae_title", "team", "enabled", "description", "created_at")
    list_filter = ("enabled", "team")
    search_fields = ("ae_title", "description")
    readonly_fields = ("created_by", "created_at")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self.has_module_permission(request)

    has_add_permission = has_change_permission = has_delete_permission = has_view_permission

    def save_model(self, request: HttpRequest, obj: DicomCallingAE, form: object, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


def _scoped(queryset: QuerySet, request: HttpRequest, team_path: str) -> QuerySet:
    """The site's visibility rule: superusers see all, staff their own teams' records."""
    if request.user.is_superuser:
        return queryset
    return queryset.filter(**{f"{team_path}__in": selectors.user_teams(user=request.user)})


class _ReadOnlyRecord(ReadOnly, admin.ModelAdmin):
    pass


@admin.register(DicomInstance)
class DicomInstanceAdmin(_ReadOnlyRecord):
    list_display = ("sop_instance_uid", "modality", "calling_ae_title", "radiograph", "received_at")
    list_filter = ("modality", "calling_ae_title")
    search_fields = ("sop_instance_uid", "study_instance_uid", "accession_number")
    exclude = ("tags",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[DicomInstance]:
        return _scoped(super().get_queryset(request).select_related("radiograph"), request, "team")


@admin.register(CaseFlag)
class CaseFlagAdmin(_ReadOnlyRecord):
    list_display = ("case", "kind", "message", "created_at")
    list_filter = ("kind",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[CaseFlag]:
        return _scoped(super().get_queryset(request), request, "case__team")
