from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    """概览's 未打印 and the usage details' "not printed" filter: the shop's numbers still
    waiting for their label, as a partial index (printed ones leave it at their first
    print). Built concurrently: numbers keep being drawn while it builds."""

    atomic = False

    dependencies = [
        ("waybills", "0004_carrier_order_id"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="waybill",
            index=models.Index(
                condition=models.Q(("print_count", 0), ("status", "allocated")),
                fields=["shop", "-allocated_at"],
                name="waybill_shop_unprinted",
            ),
        ),
    ]
