"""The SKU's bin location (库位), shown and sorted on the pick list."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("shops", "0002_order_promised_ship_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="product",
            name="bin_location",
            field=models.CharField(
                blank=True, default="", max_length=32, verbose_name="bin location"
            ),
        ),
    ]
