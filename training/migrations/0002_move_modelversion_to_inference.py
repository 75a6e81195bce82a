# ModelVersion now belongs to the inference app (inference 0001 takes over its table).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("training", "0001_initial"), ("inference", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="ModelVersion")]),
    ]
