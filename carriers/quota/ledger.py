"""The quota ledger: every movement of a subscription's balance is an entry written in the
same transaction as the counters it moves; :func:`ledger_check` proves they agree.

Only :mod:`carriers.quota` writes ``carriers_subscription``'s quota counters and
``carriers_ledgerentry``.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext

from carriers.errors import QuotaInsufficient
from carriers.models import LedgerEntry, Subscription
from waybill_console.errors import ValidationError
from waybill_console.tenancy import Actor

#: kind -> counter moved by the entry (besides the balance)
COUNTERS = {
    LedgerEntry.Kind.ALLOCATION: "allocated_total",
    LedgerEntry.Kind.RECYCLE_RETURN: "recycled_total",
}


def ledger_post(
    *,
    subscription: Subscription,
    kind: str,
    amount: int,
    actor: Actor | None = None,
    note: str = "",
    reference: str = "",
) -> LedgerEntry:
    """Move the balance by ``amount`` (signed) and write the entry, in one transaction.

    The balance changes by a conditional UPDATE: zero rows updated means the balance
    would go below zero, refused with QUOTA_INSUFFICIENT."""
    if amount == 0:
        raise ValidationError.for_fields(amount=gettext("Not zero."))
    updates = {"balance": F("balance") + amount}
    counter = COUNTERS.get(kind)
    if counter:
        updates[counter] = F(counter) + abs(amount)
    with transaction.atomic():
        target = Subscription.objects.filter(pk=subscription.pk)
        if amount < 0:
            target = target.filter(balance__gte=-amount)
        rows = target.update(**updates)
        if not rows:
            raise QuotaInsufficient(
                detail={
                    "balance": Subscription.objects.values_list("balance", flat=True).get(
                        pk=subscription.pk
                    )
                }
            )
        balance = Subscription.objects.values_list("balance", flat=True).get(pk=subscription.pk)
        entry = LedgerEntry.objects.create(
            subscription_id=subscription.pk,
            kind=kind,
            amount=amount,
            balance_after=balance,
            actor=actor.describe() if actor else "system",
            note=note[:200],
            reference=reference[:64],
        )
    subscription.balance = balance
    return entry


def ledger_check() -> list[dict]:
    """Subscriptions whose counters differ from their ledger's sums or from their numbers
    (empty: all agree). Franchise: balance = Σ ledger, allocated = −Σ (allocation and
    release entries), recycled = Σ recycle returns; every carrier: allocated = the numbers
    drawn + the numbers held by open reservations."""
    from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Sum, Value
    from django.db.models.functions import Coalesce

    from carriers.models import Reservation

    def ledger_sum(*kinds):
        entries = LedgerEntry.objects.filter(subscription=OuterRef("pk"))
        if kinds:
            entries = entries.filter(kind__in=kinds)
        total = entries.values("subscription").annotate(t=Sum("amount")).values("t")
        return Coalesce(Subquery(total, output_field=IntegerField()), Value(0))

    drawn = (
        Subscription.waybills.rel.related_model.objects.filter(subscription=OuterRef("pk"))
        .values("subscription")
        .annotate(n=Count("id"))
        .values("n")
    )
    held = (
        Reservation.objects.filter(subscription=OuterRef("pk"), state=Reservation.State.RESERVED)
        .values("subscription")
        .annotate(n=Sum("count"))
        .values("n")
    )
    problems = []
    sums = Subscription.objects.annotate(
        ledger_balance=ledger_sum(),
        ledger_allocated=ledger_sum("allocation", "release"),
        ledger_recycled=ledger_sum("recycle_return"),
        numbers=Coalesce(Subquery(drawn, output_field=IntegerField()), Value(0))
        + Coalesce(Subquery(held, output_field=IntegerField()), Value(0)),
        franchise=Q(carrier__network_type="franchise"),
    ).values(
        "pk",
        "franchise",
        "balance",
        "allocated_total",
        "recycled_total",
        "ledger_balance",
        "ledger_allocated",
        "ledger_recycled",
        "numbers",
    )
    for row in sums.iterator(chunk_size=2000):
        expected = {"allocated_total": row["numbers"]}
        if row["franchise"]:
            expected["balance"] = row["ledger_balance"]
            expected["recycled_total"] = row["ledger_recycled"]
            expected["allocated_total (ledger)"] = -row["ledger_allocated"]
        for field, value in expected.items():
            counter = row[field.split(" ")[0]]
            if counter != value:
                problems.append(
                    {"subscription": row["pk"], "field": field, "counter": counter, "ledger": value}
                )
    return problems
