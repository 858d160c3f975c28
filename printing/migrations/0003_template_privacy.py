"""隐私面单 (privacy label) per template: the templates already saved keep what they printed
(the column is added with False on every existing row), new templates get True (the
model's default, set by the second operation)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("printing", "0002_print_test_page"),
    ]

    operations = [
        migrations.AddField(
            model_name="labeltemplate",
            name="privacy",
            field=models.BooleanField(default=False, verbose_name="Privacy label (隐私面单)"),
        ),
        migrations.AlterField(
            model_name="labeltemplate",
            name="privacy",
            field=models.BooleanField(default=True, verbose_name="Privacy label (隐私面单)"),
        ),
    ]
