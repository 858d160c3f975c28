"""The cancel cap (取消上限), counted per merchant per carrier branch (seed 000: 累计总取号数以
单个快递公司下单个网点为单位计算).

While the merchant has drawn at most :data:`~carriers.models.CANCEL_CAP_FREE_UP_TO` numbers on
a branch, every cancel is allowed; above that, a cancel is allowed only while cancelled ≤
drawn / :data:`~carriers.models.CANCEL_CAP_RATIO` (20 %) after it. "Drawn" is the sum of
``allocated_total`` over all the shop's subscriptions on that branch, whatever their status:
a second shipping address on the same branch, or a service cancelled and applied for again,
keeps counting in the same window. The merchant is the subscription's shop (a number drawn
by a shop the service is shared with counts on the owner's account).

Recycling moves neither count: a recycled number stays drawn, a recycled cancelled number
stays cancelled.

The count lives on one row, ``carriers_branchaccount``: a cancel writes ``cancelled_total +
1`` and ``cancel_basis`` (drawn, as it stands) in one conditional UPDATE, so concurrent
cancels on any of the branch's subscriptions queue on that row's lock; the WHERE turns the
common refusal into 0 rows, and the CHECK ``branch_account_cancel_cap`` is the final
guarantee whatever the interleaving. Allocations never touch the row: the cap never blocks
drawing.

Locks, in this order: the branch account, then the subscription (its display counter).
"""

from __future__ import annotations

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum
from django.db.models.functions import Coalesce

from carriers.errors import CancelLimitReached
from carriers.models import (
    CANCEL_CAP_FREE_UP_TO,
    CANCEL_CAP_RATIO,
    BranchAccount,
    Subscription,
)

_CHECK = "branch_account_cancel_cap"

_ACCOUNT_SQL = """
INSERT INTO carriers_branchaccount (shop_id, branch_id, cancelled_total, cancel_basis)
VALUES (%(shop)s, %(branch)s, 0, 0)
ON CONFLICT (shop_id, branch_id) DO NOTHING
"""

#: the same rule as the CHECK: drawn ≤ FREE_UP_TO, or cancelled (after) ≤ drawn / RATIO
_TAKE_SQL = """
UPDATE carriers_branchaccount a
   SET cancelled_total = a.cancelled_total + 1, cancel_basis = d.n
  FROM (SELECT coalesce(sum(allocated_total), 0) AS n
          FROM carriers_subscription
         WHERE shop_id = %(shop)s AND branch_id = %(branch)s) d
 WHERE a.shop_id = %(shop)s AND a.branch_id = %(branch)s
   AND (d.n <= %(free)s OR a.cancelled_total + 1 <= d.n / %(ratio)s)
"""


def _branch_of(subscription_id: int) -> dict:
    shop, branch = Subscription.objects.values_list("shop_id", "branch_id").get(pk=subscription_id)
    return {"shop": shop, "branch": branch}


def cancel_take(*, subscription_id: int) -> None:
    """Count one cancel on the subscription's (shop, branch), or refuse it with
    CANCEL_LIMIT_REACHED (nothing changed).

    Runs in the caller's transaction when there is one (the cancel holds the waybill's
    lock), so the count commits or rolls back with the cancel itself."""
    keys = _branch_of(subscription_id)
    refused = CancelLimitReached(detail={"cancellable_now": 0})
    # a savepoint when the caller has a transaction: a refusal leaves it as it was
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(_ACCOUNT_SQL, keys)
        try:
            cur.execute(
                _TAKE_SQL, {**keys, "free": CANCEL_CAP_FREE_UP_TO, "ratio": CANCEL_CAP_RATIO}
            )
        except IntegrityError as error:
            if getattr(getattr(error.__cause__, "diag", None), "constraint_name", "") != _CHECK:
                raise
            raise refused from None  # the CHECK, the final guarantee, refused the row
        if not cur.rowcount:
            raise refused
        Subscription.objects.filter(pk=subscription_id).update(
            cancelled_total=F("cancelled_total") + 1
        )


def cancel_give_back(*, subscription_id: int) -> None:
    """The carrier refused a counted cancel: give the count back on both counters (fewer
    cancels can never break the cap)."""
    keys = _branch_of(subscription_id)
    with transaction.atomic():
        BranchAccount.objects.filter(
            shop_id=keys["shop"], branch_id=keys["branch"], cancelled_total__gte=1
        ).update(cancelled_total=F("cancelled_total") - 1)
        Subscription.objects.filter(pk=subscription_id, cancelled_total__gte=1).update(
            cancelled_total=F("cancelled_total") - 1
        )


def cancels_allowed(drawn: int) -> int:
    """How many cancels in all the cap allows once ``drawn`` numbers were drawn on a branch."""
    return drawn if drawn <= CANCEL_CAP_FREE_UP_TO else drawn // CANCEL_CAP_RATIO


def cancellable_now(subscription: Subscription) -> int:
    """How many more cancels the cap allows right now on the subscription's branch account
    (shared by all the shop's subscriptions on that branch)."""
    drawn = Subscription.objects.filter(
        shop_id=subscription.shop_id, branch_id=subscription.branch_id
    ).aggregate(n=Coalesce(Sum("allocated_total"), 0))["n"]
    cancelled = (
        BranchAccount.objects.filter(shop_id=subscription.shop_id, branch_id=subscription.branch_id)
        .values_list("cancelled_total", flat=True)
        .first()
    ) or 0
    return max(cancels_allowed(drawn) - cancelled, 0)
