"""One branch account per (shop, branch) that has subscriptions (any status: the cancel cap
counts cumulatively), holding the cancels counted so far on its subscriptions.

``cancel_basis`` starts at 0 (grandfathered, within the CHECK whatever the counts): the
next cancel on the branch recomputes it from the subscriptions' ``allocated_total``, and
is refused if the cancels already made are past the cap. Running it again adds nothing.
"""

from django.db import migrations

BACKFILL = """
INSERT INTO carriers_branchaccount (shop_id, branch_id, cancelled_total, cancel_basis)
SELECT shop_id, branch_id, sum(cancelled_total), 0
  FROM carriers_subscription
 GROUP BY shop_id, branch_id
ON CONFLICT (shop_id, branch_id) DO NOTHING
"""


class Migration(migrations.Migration):
    dependencies = [
        ("carriers", "0007_quota_reservations_branch_cap"),
    ]

    operations = [
        # backwards: the rows stay (0007's reversal drops the table)
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
