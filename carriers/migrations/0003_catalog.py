from django.db import migrations


def load_catalog(apps, schema_editor):
    from carriers.catalog import load

    load(apps.get_model("carriers", "Carrier"))


class Migration(migrations.Migration):
    dependencies = [("carriers", "0002_initial")]
    operations = [migrations.RunPython(load_catalog, migrations.RunPython.noop)]
