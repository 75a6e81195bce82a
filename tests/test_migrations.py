"""ModelVersion moved from the training app to inference: its rows survive the move untouched."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("inference", None), ("training", "0001_initial")]
AFTER = [("training", "0002_move_modelversion_to_inference"), ("inference", "0001_initial")]


@pytest.mark.django_db(transaction=True)
def test_model_versions_survive_the_move_to_inference():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state([("training", "0001_initial")]).apps.get_model("training", "ModelVersion")
    old.objects.create(version="v-kept", architecture="default", created_at="2026-12-01T00:00:00Z", card={"k": 1})
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.filter(model="modelversion").delete()
    staff_view = Permission.objects.create(
        codename="view_modelversion",
        name="Can view model version",
        content_type=ContentType.objects.create(app_label="training", model="modelversion"),
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("inference", "ModelVersion")
    row = new.objects.get(version="v-kept")
    assert row.card == {"k": 1} and row._meta.db_table == "inference_modelversion"
    assert "training_modelversion" not in connection.introspection.table_names()
    staff_view.refresh_from_db()  # staff keep their model-version permissions
    assert staff_view.content_type.app_label == "inference"

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())  # leave the database as the other tests expect
