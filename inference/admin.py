"""Read-only admin for model versions: versions come from `retrain`, never from a form.

No delete either: predictions name the version that made them, so removing its record would
orphan the audit trail. The change page shows a readable summary of the model card (metrics,
thresholds, input, training); the raw JSON stays available, folded away.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from inference.models import ModelVersion


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


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("version", "architecture", "created_at", "val_auroc", "test_auroc", "test_group_auroc", "active")
    list_filter = ("architecture",)
    search_fields = ("version",)
    readonly_fields = ("version", "architecture", "created_at", "registered_at", "summary", "metrics", "card")
    fieldsets = [
        (None, {"fields": ("version", "architecture", "created_at", "registered_at", "summary")}),
        ("Raw model card (JSON)", {"classes": ["collapse"], "fields": ("metrics", "card")}),
    ]

    @admin.display(description="val AUROC")
    def val_auroc(self, obj: ModelVersion) -> str:
        return _metric(obj, "val", "auroc")

    @admin.display(description="test AUROC")
    def test_auroc(self, obj: ModelVersion) -> str:
        return _metric(obj, "test", "auroc")

    @admin.display(description="test AUROC per group")
    def test_group_auroc(self, obj: ModelVersion) -> str:
        return _metric(obj, "test", "group_auroc")

    @admin.display(boolean=True, description="active")
    def active(self, obj: ModelVersion) -> bool:
        return obj.is_active

    @admin.display(description="Model card")
    def summary(self, obj: ModelVersion) -> SafeString:
        return render_to_string("admin/inference/model_card_summary.html", card_summary(obj.card or {}))

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
