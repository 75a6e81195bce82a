"""Admin for auditing: scoped like the rest of the site, AI outputs and originals read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import AbstractBaseUser, Group, User
from django.db.models import Model, QuerySet
from django.forms import ModelForm
from django.http import Http404, HttpRequest, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from diagnosis import selectors, services
from diagnosis.audit import CSV_COLUMNS, audit_admin_entries, audit_export_csv
from diagnosis.models import (
    AuditEvent,
    Case,
    OperatingPoint,
    Patient,
    Prediction,
    Radiograph,
    Review,
    SignOff,
    TeamSettings,
)
from diagnosis.services.records import CASE_EDITABLE, PATIENT_EDITABLE
from fracture_site.admin import ReadOnly


def percent_1dp(value: float | None) -> str:
    """A probability or threshold for auditors: a percentage with one decimal (0.41234 -> 41.2%)."""
    return "-" if value is None else f"{value * 100:.1f}%"


class _Percentages:
    """Probability and threshold shown as percentages, in lists and on the read-only pages."""

    @admin.display(description="Probability", ordering="probability")
    def probability_percent(self, obj: Prediction) -> str:
        return percent_1dp(obj.probability)

    @admin.display(description="Threshold", ordering="threshold")
    def threshold_percent(self, obj: Prediction) -> str:
        return percent_1dp(obj.threshold)


def _thumbnail(radiograph: Radiograph) -> str:
    if radiograph.pk is None:
        return "-"
    url = reverse("diagnosis:radiograph-image", args=[radiograph.pk])
    return format_html('<a href="{}"><img class="xray-thumb" src="{}?thumb=1" alt="X-ray"></a>', url, url)


class _AdminMedia:
    """Thumbnail sizing from a stylesheet: the CSP allows no inline style attributes."""

    class Media:
        css = {"all": ["css/admin.css"]}


class _ScopedChoices:
    """Choices in admin forms and filters follow the site's visibility rule (``selectors``).

    Without this, staff of one team could file a patient under another team, or open a case on
    another team's patient by typing its id, and so gain sight of that patient.
    """

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "team":
            kwargs["queryset"] = selectors.filing_teams(user=request.user)
        elif db_field.name == "patient":
            kwargs["queryset"] = selectors.patient_list(user=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


_TEAM_FILTER = ("team", admin.RelatedOnlyFieldListFilter)  # only teams in the (scoped) list


def _adopt(obj: Model, saved: Model) -> None:
    """Make the admin's unsaved ``obj`` the row a service saved, for the admin's log and redirect."""
    for field in obj._meta.concrete_fields:
        setattr(obj, field.attname, getattr(saved, field.attname))
    obj._state.adding, obj._state.db = False, saved._state.db


class _ThroughRecordsServices:
    """Adds and changes go through the records services, as on the web and the API: the same
    filing rule, validation and audit trail. A record's care team (and a case's patient) is
    fixed once filed: read-only on the change page."""

    fixed_after_filing: tuple[str, ...] = ("team",)
    editable: tuple[str, ...]

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> tuple[str, ...]:
        fields = tuple(super().get_readonly_fields(request, obj))
        return (*fields, *self.fixed_after_filing) if obj is not None else fields

    def save_model(self, request: HttpRequest, obj: Model, form: ModelForm, change: bool) -> None:
        if change:
            changed = {name: form.cleaned_data[name] for name in self.editable if name in form.changed_data}
            if changed:
                self.service_update(request.user, obj, changed)
        else:
            _adopt(obj, self.service_create(request.user, form.cleaned_data))

    def service_create(self, user: AbstractBaseUser, data: dict[str, Any]) -> Model:
        raise NotImplementedError

    def service_update(self, user: AbstractBaseUser, obj: Model, data: dict[str, Any]) -> Model:
        raise NotImplementedError


@admin.register(Patient)
class PatientAdmin(_ThroughRecordsServices, _ScopedChoices, admin.ModelAdmin):
    list_display = ("mrn", "name", "date_of_birth", "sex", "team", "created_at")
    list_filter = ("sex", _TEAM_FILTER, "created_at")
    search_fields = ("mrn", "name")
    fields = ("mrn", "name", "date_of_birth", "sex", "team", "created_by", "created_at", "updated_at")
    readonly_fields = ("created_by", "created_at", "updated_at")
    editable = PATIENT_EDITABLE

    def service_create(self, user: AbstractBaseUser, data: dict[str, Any]) -> Patient:
        return services.patient_create(user=user, team=data["team"], **{name: data[name] for name in self.editable})

    def service_update(self, user: AbstractBaseUser, obj: Patient, data: dict[str, Any]) -> Patient:
        return services.patient_update(user=user, patient=obj, data=data)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Patient]:
        return selectors.patient_list(user=request.user)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class RadiographInline(ReadOnly, admin.TabularInline):
    model = Radiograph
    extra = 0
    fields = ("thumbnail", "original_filename", "format", "width", "height", "uploaded_at")
    readonly_fields = fields

    @admin.display(description="Image")
    def thumbnail(self, obj: Radiograph) -> str:
        return _thumbnail(obj)


@admin.register(Case)
class CaseAdmin(_ThroughRecordsServices, _ScopedChoices, _AdminMedia, admin.ModelAdmin):
    list_display = ("id", "patient", "body_region", "status", "team", "created_at")
    list_filter = ("status", "body_region", _TEAM_FILTER, "created_at")
    search_fields = ("patient__mrn", "patient__name")
    fields = ("patient", "team", "body_region", "clinical_question", "status", "created_by", "created_at", "updated_at")
    readonly_fields = ("created_by", "created_at", "updated_at")
    fixed_after_filing = ("patient", "team")
    editable = CASE_EDITABLE
    # Not raw_id_fields: its widget prints the label of any typed id, another team's patient included.
    autocomplete_fields = ("patient",)
    inlines = [RadiographInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Case]:
        return selectors.case_list(user=request.user)

    def get_readonly_fields(self, request: HttpRequest, obj: Case | None = None) -> tuple[str, ...]:
        fields = super().get_readonly_fields(request, obj)
        return fields if obj is not None else (*fields, "status")  # a case is opened open

    def service_create(self, user: AbstractBaseUser, data: dict[str, Any]) -> Case:
        fields = ("patient", "team", "body_region", "clinical_question")
        return services.case_create(user=user, **{name: data[name] for name in fields})

    def service_update(self, user: AbstractBaseUser, obj: Case, data: dict[str, Any]) -> Case:
        return services.case_update(user=user, case=obj, data=data)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class PredictionInline(_Percentages, ReadOnly, admin.TabularInline):
    model = Prediction
    extra = 0
    fields = (
        "status", "label", "probability_percent", "threshold_percent", "model_version", "error", "created_at",
        "finished_at",
    )  # fmt: skip
    readonly_fields = fields


@admin.register(Radiograph)
class RadiographAdmin(_AdminMedia, ReadOnly, admin.ModelAdmin):
    list_display = ("id", "thumbnail", "case", "original_filename", "format", "width", "height", "uploaded_at")
    list_filter = ("format", ("case__team", admin.RelatedOnlyFieldListFilter), "uploaded_at")
    search_fields = ("case__patient__mrn", "sha256")
    readonly_fields = ("thumbnail", "sha256", "size_bytes", "uploaded_by")
    exclude = ("image",)
    inlines = [PredictionInline]
    actions = ["request_new_prediction"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Radiograph]:
        return selectors.radiograph_list(user=request.user)

    @admin.display(description="Image")
    def thumbnail(self, obj: Radiograph) -> str:
        return _thumbnail(obj)

    @admin.action(description="Run the AI model again on the selected radiographs")
    def request_new_prediction(self, request: HttpRequest, queryset: QuerySet[Radiograph]) -> None:
        queued = 0
        for radiograph in queryset:
            try:
                services.prediction_requeue(user=request.user, radiograph=radiograph)
            except Http404:
                continue
            queued += 1
        self.message_user(request, f"{queued} prediction(s) queued.", messages.SUCCESS)


@admin.register(Prediction)
class PredictionAdmin(_Percentages, _AdminMedia, ReadOnly, admin.ModelAdmin):
    list_display = (
        "id", "thumbnail", "radiograph", "status", "label", "probability_percent", "threshold_percent",
        "threshold_name", "model_version", "created_at", "finished_at",
    )  # fmt: skip
    fields = (
        "thumbnail", "radiograph", "status", "label", "probability_percent", "threshold_percent", "threshold_name",
        "model_version", "inference_ms", "error", "attempts", "created_at", "enqueued_at", "started_at", "finished_at",
    )  # fmt: skip
    readonly_fields = fields
    list_filter = (
        "status",
        "label",
        "model_version",
        ("radiograph__case__team", admin.RelatedOnlyFieldListFilter),
        "created_at",
    )
    search_fields = ("radiograph__case__patient__mrn", "model_version")
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Prediction]:
        return selectors.prediction_list(user=request.user)

    @admin.display(description="Image")
    def thumbnail(self, obj: Prediction) -> str:
        return _thumbnail(obj.radiograph)


@admin.register(Review)
class ReviewAdmin(ReadOnly, admin.ModelAdmin):
    """Clinicians' reads, for audit: append-only, so read-only here too."""

    list_display = ("id", "prediction", "reader", "read", "agrees_with_ai", "created_at")
    list_filter = ("read", "prediction__model_version", "created_at")
    search_fields = ("prediction__radiograph__case__patient__mrn", "reader__username")
    fields = ("prediction", "reader", "read", "note", "created_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Review]:
        return selectors.review_list(user=request.user)

    @admin.display(description="Agrees with the AI", boolean=True)
    def agrees_with_ai(self, obj: Review) -> bool | None:
        return obj.agrees_with_ai


@admin.register(SignOff)
class SignOffAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("id", "case", "final_status", "signed_by", "created_at")
    list_filter = ("final_status", "created_at")
    search_fields = ("case__patient__mrn", "signed_by__username")
    fields = ("case", "signed_by", "final_status", "impression", "created_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[SignOff]:
        return selectors.sign_off_list(user=request.user)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnly, admin.ModelAdmin):
    """The audit trail, for administrators: read-only for everyone, superusers included.

    Staff need the ``diagnosis.view_auditevent`` permission; those who are not superusers see
    only events about their own teams' records (log-ins and exports belong to no team).
    """

    list_display = tuple(column for column in CSV_COLUMNS if column not in ("user_agent", "path"))
    list_filter = ("action", "timestamp", _TEAM_FILTER, ("actor", admin.RelatedOnlyFieldListFilter), "object_type")
    search_fields = ("actor_username", "description", "object_id", "ip_address", "path")
    date_hierarchy = "timestamp"
    actions = ["export_csv"]
    list_select_related = ("team",)
    show_full_result_count = False  # no COUNT(*) over a large, growing table on every page

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEvent]:
        events = super().get_queryset(request)
        if request.user.is_superuser:
            return events
        return events.filter(team__in=selectors.user_teams(user=request.user))

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.is_active and request.user.is_staff and request.user.has_perm("diagnosis.view_auditevent")

    @admin.action(description="Export the selected events as CSV", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[AuditEvent]) -> StreamingHttpResponse:
        response = StreamingHttpResponse(
            audit_export_csv(user=request.user, events=queryset.order_by("timestamp", "id")),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="audit-{timezone.now():%Y%m%d-%H%M%S}.csv"'
        return response


class _AuditedBulkDeletes:
    """Admin changes reach the audit trail through LogEntry's post_save (``diagnosis.audit``),
    except a bulk delete of several objects, which Django logs with ``bulk_create`` (no signal)."""

    def log_deletions(self, request: HttpRequest, queryset: QuerySet) -> list:
        entries = super().log_deletions(request, queryset)
        if len(entries) > 1:
            audit_admin_entries(entries)
        return entries


admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class AuditedUserAdmin(_AuditedBulkDeletes, UserAdmin):
    pass


class TeamSettingsInline(admin.StackedInline):
    """The team's operating point: which model card threshold its badges and worklist order use."""

    model = TeamSettings
    can_delete = False
    extra = 1
    max_num = 1


@admin.register(Group)
class AuditedGroupAdmin(_AuditedBulkDeletes, GroupAdmin):
    inlines = [TeamSettingsInline]
    list_display = ("name", "operating_point")
    list_select_related = ("settings",)

    @admin.display(description="Operating point")
    def operating_point(self, group: Group) -> str:
        settings = getattr(group, "settings", None)
        return (settings.get_operating_point_display() if settings else OperatingPoint.BALANCED.label) + (
            "" if settings else " (default)"
        )


from diagnosis.dicom import admin as _dicom_admin  # noqa: E402, F401  (registers the DICOM node's models)
