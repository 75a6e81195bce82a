"""Database writes for the training app."""

from __future__ import annotations

from datetime import datetime

from django.db import DatabaseError, connection

from inference.models import ModelVersion


def model_version_register(*, card: dict) -> ModelVersion | None:
    """Record a version for the admin; None when no database is reachable or migrated.

    Training must work on a machine with no database at all, so an absent database is a note,
    not a failure.
    """
    try:
        connection.ensure_connection()
        if ModelVersion._meta.db_table not in connection.introspection.table_names():
            return None
        metrics = {
            split: {k: m.get(k) for k in ("auroc", "auroc_ci95", "group_auroc", "group_auroc_ci95")}
            for split, m in card.get("metrics", {}).items()
        }
        obj, _ = ModelVersion.objects.update_or_create(
            version=card["version"],
            defaults={
                "architecture": card["architecture"],
                "created_at": datetime.fromisoformat(card["created_at"]),
                "metrics": metrics,
                "card": card,
            },
        )
        return obj
    except DatabaseError:
        return None
