from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    """The order search's number prefix (``order_no LIKE 'x%'``) as an index scan under any
    collation (the unique (shop, order_no) index serves LIKE only under "C"). Built
    concurrently: orders keep being written while it builds."""

    atomic = False

    dependencies = [
        ("shops", "0004_order_receiver_postcode"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="order",
            index=models.Index(
                fields=["shop", "order_no"],
                name="order_shop_order_no_prefix",
                opclasses=["int8_ops", "varchar_pattern_ops"],
            ),
        ),
    ]
