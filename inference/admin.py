"""Model versions in the admin: every version with its card metrics, its use and when it served;
activation and roll-back pages for staff with the activation permission.

Versions come from `retrain`, `rethreshold` or `register_models`, never from a form, and are
never deleted: predictions name the version that made them. A registered version is a candidate
until activated here. The change page shows a readable summary of the model card (metrics,
thresholds, input, training); the raw JSON stays available, folded away.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.apps import apps
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import BooleanField, Case, Count, Exists, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from fracture_site.admin import ReadOnly
from inference.models import REASON_MAX_LENGTH, ModelActivation, ModelVersion
from inference.selectors import activation_current, activation_periods
from inference.services import can_activate, model_version_activate, model_version_problem, model_version_rollback


def _metric(obj: ModelVersion, split: str, name: str) -> str:
    value = (obj.metrics or {}).get(split, {}).get(name)
    return f"{value:.3f}" if isinstance(value, int | float) else "-"


def _at_thresholds(level: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "name": name.replace("_", " "),
            "sensitivity": values.get("sensitivity"),
            "specificity": values.get("specificity"),
        }
        for name, values in (level.get("at_threshold") or {}).items()
    ]


def card_summary(card: dict[str, Any]) -> dict[str, Any]:
    """What a reviewer reads first, taken from a model card of any version (missing keys stay empty)."""
    splits = []
    for split, metrics in (card.get("metrics") or {}).items():
        splits.append(
            {
                "name": split,
                "n_images": metrics.get("n_images"),
                "n_groups": metrics.get("n_groups"),
                "auroc": metrics.get("auroc"),
                "auroc_ci95": metrics.get("auroc_ci95") or [],
                "group_auroc": metrics.get("group_auroc"),
                "group_auroc_ci95": metrics.get("group_auroc_ci95") or [],
                "per_image": _at_thresholds(metrics.get("per_image") or {}),
                "per_group": _at_thresholds(metrics.get("per_group") or {}),
            }
        )
    training = card.get("training") or {}
    members = training.get("members") or ([training] if "epochs_run" in training else [])
    recipe = card.get("recipe") or {}
    return {
        "card": card,
        "splits": splits,
        "thresholds": [
            {"name": name.replace("_", " "), "value": value, "default": name == card.get("default_threshold")}
            for name, value in sorted((card.get("thresholds") or {}).items())
        ],
        "input": card.get("input") or {},
        "data_counts": sorted(((card.get("data") or {}).get("counts") or {}).items()),
        "training": {
            "epochs": recipe.get("epochs") or (members[0].get("epochs_run") if members else None),
            "members": [
                {
                    "seed": m.get("seed", card.get("seed")),
                    "epochs_run": m.get("epochs_run"),
                    "selected": m.get("selected_epoch"),
                }
                for m in members
            ],
            "selection": training.get("selection", ""),
            "wall_minutes": (training["wall_seconds"] / 60) if training.get("wall_seconds") else None,
            "cpu_count": training.get("cpu_count"),
        },
        "leakage_found": (card.get("leakage") or {}).get("leakage_found"),
        "derived_from": card.get("derived_from") or {},
    }


def _prediction_counts() -> Subquery | Value:
    """Predictions made per version. The diagnosis app records them; it is looked up by name, so
    inference never imports it (``tests/test_import_graph.py``)."""
    try:
        prediction = apps.get_model("diagnosis", "Prediction")
    except LookupError:
        return Value(None)
    counts = (
        prediction.objects.filter(model_version=OuterRef("version"))
        .order_by()
        .values("model_version")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counts), 0)


class ActivationForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        max_length=REASON_MAX_LENGTH,
        help_text="Why this version should serve now; kept with the activation and in the audit trail.",
    )
    # The activation the page showed: a different one at submit time means someone else acted.
    expected_active = forms.IntegerField(widget=forms.HiddenInput, required=False)


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnly, admin.ModelAdmin):
    list_display = (
        "version", "architecture", "created_at", "selection_auroc", "test_auroc", "test_group_auroc",
        "predictions_made", "status", "active_periods", "activate_link",
    )  # fmt: skip
    list_filter = ("architecture",)
    search_fields = ("version",)
    readonly_fields = (
        "version", "architecture", "created_at", "registered_at", "status", "active_periods", "summary", "metrics",
        "card",
    )  # fmt: skip
    fieldsets = [
        (None, {"fields": ("version", "architecture", "created_at", "registered_at", "status", "active_periods")}),
        ("Model card", {"fields": ("summary",)}),
        ("Raw model card (JSON)", {"classes": ["collapse"], "fields": ("metrics", "card")}),
    ]
    change_list_template = "admin/inference/modelversion_change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[ModelVersion]:
        current = activation_current()
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_predictions=_prediction_counts(),
                is_current=Case(
                    When(pk=current.version_id if current else None, then=Value(True)),
                    default=Value(False),
                    output_field=BooleanField(),
                ),
                was_activated=Exists(ModelActivation.objects.filter(version=OuterRef("pk"))),
            )
        )

    @admin.display(description="val AUROC (CV where no val split)")
    def selection_auroc(self, obj: ModelVersion) -> str:
        if "val" in (obj.metrics or {}):
            return _metric(obj, "val", "auroc")
        value = _metric(obj, "cross_validation", "auroc")
        return value if value == "-" else f"{value} (CV)"

    @admin.display(description="test AUROC")
    def test_auroc(self, obj: ModelVersion) -> str:
        return _metric(obj, "test", "auroc")

    @admin.display(description="test AUROC per group")
    def test_group_auroc(self, obj: ModelVersion) -> str:
        return _metric(obj, "test", "group_auroc")

    @admin.display(description="predictions made", ordering="n_predictions")
    def predictions_made(self, obj: ModelVersion) -> str:
        count = getattr(obj, "n_predictions", None)
        return "-" if count is None else f"{count:,}"

    @admin.display(description="status")
    def status(self, obj: ModelVersion) -> SafeString:
        current = getattr(obj, "is_current", None)
        if current is None:
            current = obj.is_active
        if current:
            return format_html('<strong class="model-active">{}</strong>', "active")
        was = getattr(obj, "was_activated", None)
        if was is None:
            was = obj.activations.exists()
        return format_html("{}", "previously active" if was else "candidate")

    @admin.display(description="active (UTC)")
    def active_periods(self, obj: ModelVersion) -> SafeString | str:
        periods = activation_periods(version=obj)
        if not periods:
            return "never"
        rows = ((f"{p.start:%Y-%m-%d %H:%M}", f"{p.end:%Y-%m-%d %H:%M}" if p.end else "now") for p in periods)
        return format_html_join(mark_safe("<br>"), "{} \u2013 {}", rows)

    @admin.display(description="")
    def activate_link(self, obj: ModelVersion) -> SafeString | str:
        if getattr(obj, "is_current", False):
            return ""
        url = reverse("admin:inference_modelversion_activate", args=[obj.pk])
        return format_html('<a class="button" href="{}">Activate\u2026</a>', url)

    @admin.display(description="Model card")
    def summary(self, obj: ModelVersion) -> SafeString:
        return render_to_string("admin/inference/model_card_summary.html", card_summary(obj.card or {}))

    # Activation and roll-back ---------------------------------------------------------------

    def get_list_display(self, request: HttpRequest) -> tuple[str, ...]:
        shown = super().get_list_display(request)
        return shown if can_activate(request.user) else tuple(name for name in shown if name != "activate_link")

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        current = activation_current()
        context = {
            **(extra_context or {}),
            "may_activate": can_activate(request.user),
            "current_activation": current,
            "rollback_target": current.previous.version if current and current.previous else None,
        }
        return super().changelist_view(request, extra_context=context)

    def get_urls(self):
        return [
            path(
                "<int:object_id>/activate/",
                self.admin_site.admin_view(self.activate_view),
                name="inference_modelversion_activate",
            ),
            path("rollback/", self.admin_site.admin_view(self.rollback_view), name="inference_modelversion_rollback"),
            *super().get_urls(),
        ]

    def activate_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        if not can_activate(request.user):
            raise PermissionDenied
        version = ModelVersion.objects.filter(pk=object_id).first()
        if version is None:
            raise Http404("no such model version")
        current = activation_current()

        def act(form: ActivationForm, shown: ModelActivation | None) -> ModelActivation:
            return model_version_activate(
                version=version, user=request.user, reason=form.cleaned_data["reason"], expected_active=shown
            )

        return self._confirm(
            request,
            act=act,
            current=current,
            target=version,
            title=f"Activate model version {version}",
            initial_reason="",
            problem=model_version_problem(version) if request.method != "POST" else None,
        )

    def rollback_view(self, request: HttpRequest) -> HttpResponse:
        if not can_activate(request.user):
            raise PermissionDenied
        current = activation_current()
        target = current.previous.version if current and current.previous else None
        if target is None:
            self.message_user(request, "There is no earlier activation to roll back to.", messages.WARNING)
            return HttpResponseRedirect(reverse("admin:inference_modelversion_changelist"))

        def act(form: ActivationForm, shown: ModelActivation | None) -> ModelActivation:
            return model_version_rollback(user=request.user, reason=form.cleaned_data["reason"], expected_active=shown)

        return self._confirm(
            request,
            act=act,
            current=current,
            target=target,
            title=f"Roll back to model version {target}",
            initial_reason=f"Roll back from {current.version} to {target}",
            problem=None,
            is_rollback=True,
        )

    def _confirm(
        self,
        request: HttpRequest,
        *,
        act: Any,
        current: ModelActivation | None,
        target: ModelVersion,
        title: str,
        initial_reason: str,
        problem: str | None,
        is_rollback: bool = False,
    ) -> HttpResponse:
        """The confirmation page; on POST, the activation, applied only if the active version is
        still the one the page showed."""
        if request.method == "POST":
            form = ActivationForm(request.POST)
            if form.is_valid():
                shown_pk = form.cleaned_data["expected_active"]
                shown = ModelActivation.objects.filter(pk=shown_pk).first() if shown_pk else None
                try:
                    if shown_pk and shown is None:
                        raise ValidationError("The page showed an activation that does not exist; reload it.")
                    activation = act(form, shown)
                except ValidationError as exc:
                    form.add_error(None, exc)
                else:
                    verb = "Rolled back to" if activation.is_rollback else "Activated"
                    self.message_user(
                        request,
                        f"{verb} {activation.version}. Workers switch to it within "
                        f"{_recheck_seconds()} seconds; no restart is needed.",
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(reverse("admin:inference_modelversion_changelist"))
        else:
            initial = {"expected_active": current.pk if current else None, "reason": initial_reason}
            form = ActivationForm(initial=initial)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "form": form,
            "current": current,
            "target": target,
            "problem": problem,
            "is_rollback": is_rollback,
            "recheck_seconds": _recheck_seconds(),
        }
        return TemplateResponse(request, "admin/inference/activate.html", context)


def _recheck_seconds() -> int:
    return int(settings.FRACTURE_ACTIVE_RECHECK_S)


@admin.register(ModelActivation)
class ModelActivationAdmin(ReadOnly, admin.ModelAdmin):
    """The activation history (append-only): who made which version the served one, when and why."""

    list_display = ("activated_at", "version", "previous_version", "activated_by", "is_rollback", "reason")
    list_filter = ("is_rollback",)
    list_select_related = ("version", "activated_by", "previous__version")
    readonly_fields = ("version", "activated_by", "activated_at", "reason", "previous", "is_rollback")

    @admin.display(description="replaced")
    def previous_version(self, obj: ModelActivation) -> str:
        return str(obj.previous.version) if obj.previous else "-"
