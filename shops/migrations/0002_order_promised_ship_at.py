"""Pre-sale orders (预售): the promised ship date their deadlines count from."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("shops", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="promised_ship_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="promised ship date"),
        ),
    ]
