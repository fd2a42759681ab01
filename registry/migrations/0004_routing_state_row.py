from django.db import migrations


def create_row(apps, schema_editor):
    apps.get_model("rollouts", "RoutingState").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("rollouts", "0003_traffic")]
    operations = [migrations.RunPython(create_row, migrations.RunPython.noop)]
