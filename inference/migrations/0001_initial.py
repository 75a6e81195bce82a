# ModelVersion moved from the training app: the table is taken over as it is (state only),
# then renamed to this app's name. No row is touched.

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [("training", "0001_initial")]

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
    ]
