# ModelVersion moved from the training app: the table is taken over as it is (state only),
# then renamed to this app's name. No row is touched; its content type (and so the staff
# permissions and admin log entries that point at it) moves with it.

from django.db import migrations, models


def move_content_type(apps, schema_editor, *, source="training", target="inference"):
    content_types = apps.get_model("contenttypes", "ContentType")
    if content_types.objects.filter(app_label=target, model="modelversion").exists():
        return
    content_types.objects.filter(app_label=source, model="modelversion").update(app_label=target)


def move_content_type_back(apps, schema_editor):
    move_content_type(apps, schema_editor, source="inference", target="training")


class Migration(migrations.Migration):
    initial = True

    dependencies = [("training", "0001_initial"), ("contenttypes", "0002_remove_content_type_name")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ModelVersion",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("version", models.CharField(max_length=100, unique=True)),
                        ("architecture", models.CharField(max_length=50)),
                        ("created_at", models.DateTimeField()),
                        ("registered_at", models.DateTimeField(auto_now_add=True)),
                        ("metrics", models.JSONField(blank=True, default=dict)),
                        ("card", models.JSONField(blank=True, default=dict)),
                    ],
                    options={"ordering": ["-created_at"], "db_table": "training_modelversion"},
                ),
            ],
        ),
        migrations.AlterModelTable(name="modelversion", table=None),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
