"""Shadow runs in the admin: start one (add permission), follow its progress and read the
comparison (view permission). Figures only: no image, patient or per-image row is shown."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from shadow import comparison, selectors, services
from shadow.forms import ShadowRunStartForm
from shadow.models import ShadowRun


@admin.register(ShadowRun)
class ShadowRunAdmin(admin.ModelAdmin):
    list_display = ("id", "candidate", "status", "progress", "requested_by", "created_at", "finished_at", "compare")
    list_filter = ("status",)
    readonly_fields = (
        "candidate", "status", "progress", "n_requested", "n_selected", "thresholds", "error", "requested_by",
        "created_at", "started_at", "finished_at", "compare",
    )  # fmt: skip
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[ShadowRun]:
        return selectors.shadow_run_list()

    @admin.display(description="progress")
    def progress(self, obj: ShadowRun) -> str:
        total = obj.n_selected or obj.n_requested
        return f"{obj.done}/{total}"

    @admin.display(description="comparison")
    def compare(self, obj: ShadowRun) -> str:
        if obj.pk is None or not obj.done:
            return "-"
        url = reverse("admin:shadow_shadowrun_compare", args=[obj.pk])
        return format_html('<a href="{}">Compare</a>', url)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        pending = ShadowRun.objects.filter(status__in=(ShadowRun.Status.QUEUED, ShadowRun.Status.RUNNING))
        return super().changelist_view(request, {**(extra_context or {}), "refresh": pending.exists()})

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None) -> HttpResponse:
        """The start form: a candidate version and N, handed to ``services.shadow_run_start``."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ShadowRunStartForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                run = services.shadow_run_start(
                    user=request.user, candidate=form.cleaned_data["candidate"], n=form.cleaned_data["n"]
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, f"Shadow run {run.pk} queued: {run.candidate.version}.")
                return redirect("admin:shadow_shadowrun_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Start a shadow run",
            "form": form,
            "latest_version": selectors.latest_prediction_version(),
        }
        return TemplateResponse(request, "admin/shadow/shadowrun/start.html", context)

    def get_urls(self):
        compare = path(
            "<int:pk>/compare/",
            self.admin_site.admin_view(self.compare_view),
            name="shadow_shadowrun_compare",
        )
        return [compare, *super().get_urls()]

    def compare_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = self.get_queryset(request).filter(pk=pk).first()
        if run is None:
            raise Http404("No shadow run matches the given query.")
        rows = selectors.comparison_rows(run=run)
        cards = selectors.version_thresholds(versions={row["reference_version"] for row in rows})
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Shadow run {run.pk}: {run.candidate.version} against the stored predictions",
            "run": run,
            "result": comparison.compare(rows, candidate_thresholds=run.thresholds, reference_cards=cards),
        }
        return TemplateResponse(request, "admin/shadow/shadowrun/compare.html", context)
