"""Read-only admin for model versions: versions come from `retrain`, never from a form."""

from __future__ import annotations

from django.contrib import admin

from training.models import ModelVersion


def _metric(obj: ModelVersion, split: str, name: str) -> str:
    value = (obj.metrics or {}).get(split, {}).get(name)
    return f"{value:.3f}" if isinstance(value, int | float) else "-"


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("version", "architecture", "created_at", "val_auroc", "test_auroc", "test_group_auroc", "active")
    list_filter = ("architecture",)
    search_fields = ("version",)
    readonly_fields = ("version", "architecture", "created_at", "registered_at", "metrics", "card")

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

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
