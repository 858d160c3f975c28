"""One demo order's life: when it was created, paid, printed, shipped, picked up, in
transit, delivered or failed, or cancelled, and with which carrier's tracking number, as
the model fields it has at ``now``."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.utils import timezone

from shops.demo.picker import Picker
from shops.models import CancelRequestStatus, OrderStatus
from shops.services.order_states import REMINDER_AFTER, REROUTE_WITHIN, UNPAID_CANCEL_AFTER

S = OrderStatus
HISTORY_DAYS = 60

# --- carriers (codes of carriers.catalog.CARRIERS) -------------------------------------------

#: code, share, tracking number prefix, random digits after it
CARRIERS = [
    ("ZTO", 26, "78", 12),
    ("YTO", 20, "YT", 13),
    ("YUNDA", 13, "46", 11),
    ("JT", 12, "JT", 13),
    ("STO", 10, "77", 13),
    ("SF", 8, "SF", 13),
    ("POSTB", 4, "98", 11),
    ("EMS", 3, "11", 11),
    ("JD", 3, "JDVA", 11),
    ("DEPPON", 1, "DPK", 12),
]
REMOTE_CARRIERS = [c for c in CARRIERS if c[0] in ("POSTB", "EMS", "SF", "ZTO")]

#: local hour of day -> share of orders created in it (evening peak)
HOUR_WEIGHTS = [3, 2, 1, 0.5, 0.5, 0.5, 1, 2, 3, 4, 5, 5, 6, 5, 5, 5, 5, 5, 5, 6, 8, 9, 8, 5]


def _hours(h: float) -> timedelta:
    return timedelta(hours=h)


class Lifecycle:
    """Draws one order's history and returns the model fields it has at ``now``."""

    def __init__(self, rng: random.Random, now: datetime, no_source_risk: bool):
        self.rng, self.now, self.no_source_risk = rng, now, no_source_risk
        self.local_midnight = timezone.localtime(now).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        self.hour = Picker(range(24), HOUR_WEIGHTS)
        self.carrier = Picker(CARRIERS, [c[1] for c in CARRIERS])
        self.remote_carrier = Picker(REMOTE_CARRIERS, [c[1] for c in REMOTE_CARRIERS])

    def created_at(self) -> datetime:
        rng = self.rng
        # three quarters spread over 60 days, a quarter in the last (busier) week
        days_back = int(rng.random() * (HISTORY_DAYS if rng.random() < 0.75 else 7))
        at = (
            self.local_midnight
            - timedelta(days=days_back)
            + timedelta(hours=self.hour(rng), seconds=rng.random() * 3600)
        )
        if at > self.now:  # later today: somewhere between midnight and now
            at = self.local_midnight + (self.now - self.local_midnight) * rng.random()
        return at

    def tracking(self, remote: bool) -> tuple[str, str]:
        code, _share, prefix, digits = (self.remote_carrier if remote else self.carrier)(self.rng)
        return code, prefix + f"{self.rng.randrange(10**digits):0{digits}d}"

    def waiting(self) -> dict:
        """An order of the backlog: paid within the last 20 hours (counted back from
        ``now``, not from midnight, so the hour the demo is seeded changes nothing) and
        still waiting to be numbered, printed and shipped."""
        rng, now = self.rng, self.now
        created = now - _hours(rng.uniform(0.2, 20))
        paid = min(now, created + timedelta(minutes=rng.expovariate(1 / 4)))
        return {"created_at": created, "paid_at": paid, "status": S.PAID}

    def draw(self, created: datetime, remote: bool) -> dict:
        """The fields of an order created at ``created``, as they stand at ``now``."""
        rng, now = self.rng, self.now
        age = now - created
        f: dict = {"created_at": created}

        # 8% are never paid: reminded at 15 min and 16 h, cancelled at 48 h
        if rng.random() < 0.08 or age < timedelta(minutes=rng.expovariate(1 / 4)):
            f["reminders_sent"] = sum(age >= r for r in REMINDER_AFTER)
            if age < UNPAID_CANCEL_AFTER:
                f["status"] = S.UNPAID
            else:
                f.update(
                    status=S.CANCELLED,
                    cancelled_at=created + UNPAID_CANCEL_AFTER,
                    cancel_reason="unpaid_timeout",
                    reminders_sent=len(REMINDER_AFTER),
                )
            return f

        paid = created + timedelta(minutes=min(rng.expovariate(1 / 4), age.total_seconds() / 60))
        f["paid_at"] = paid
        slow = rng.random() < 0.06  # the merchant is behind on some orders
        by_hand = not self.no_source_risk and rng.random() < 0.12
        with_ready_stage = not by_hand and rng.random() < 0.75
        ready = paid + _hours(rng.uniform(30, 60) if slow else rng.uniform(1, 30))
        shipped = ready + _hours(rng.uniform(0.3, 10)) if with_ready_stage else ready
        picked = shipped + _hours(
            rng.uniform(40, 90) if rng.random() < 0.03 else rng.uniform(0.5, 8)
        )
        transit = picked + _hours(rng.uniform(1, 6))
        travel = rng.uniform(72, 190) if remote else rng.uniform(18, 90)
        delivered = transit + _hours(travel)

        # 5% are cancelled by the buyer before shipping
        if rng.random() < 0.05:
            cancelled = paid + (min(ready, paid + _hours(20)) - paid) * rng.random()
            if cancelled <= now:
                f.update(
                    status=S.CANCELLED,
                    cancelled_at=cancelled,
                    cancel_reason="buyer_request",
                    cancel_request_status=CancelRequestStatus.APPROVED,
                    cancel_requested_at=cancelled - _hours(rng.uniform(0.05, 6)),
                )
                return f

        if (with_ready_stage and ready <= now) or shipped <= now:
            f["carrier_code"], f["tracking_no"] = self.tracking(remote)
            f["has_waybill"] = not by_hand
            f["shipped_by_hand"] = by_hand
        if shipped > now:
            if with_ready_stage and ready <= now:
                f.update(status=S.READY_TO_SHIP, ready_to_ship_at=ready)
            else:
                f["status"] = S.PAID
            if rng.random() < 0.03:  # the buyer asked to cancel; the 48 h answer is pending
                since = max(paid, now - _hours(47))
                asked = since + (now - since) * rng.random()
                f.update(
                    cancel_request_status=CancelRequestStatus.PENDING, cancel_requested_at=asked
                )
            elif rng.random() < 0.01:
                f["address_changed_at"] = paid + (now - paid) * rng.random()
            return f

        if with_ready_stage:
            f["ready_to_ship_at"] = ready
        f["shipped_at"] = shipped
        f["status"] = S.SHIPPED
        if picked > now:
            return f
        f["picked_up_at"] = picked
        if transit > now:
            return f
        f.update(status=S.IN_TRANSIT, in_transit_at=transit)
        if rng.random() < 0.025:  # delivery fails: re-routed once, or returned after 12 days
            failed = transit + _hours(travel * rng.uniform(0.5, 1))
            if failed > now:
                return f
            f.update(status=S.DELIVERY_FAILED, failed_at=failed)
            if rng.random() < 0.5:
                rerouted = failed + _hours(rng.uniform(4, 72))
                if rerouted <= now:
                    f.update(status=S.IN_TRANSIT, rerouted_at=rerouted)
                    delivered = rerouted + _hours(rng.uniform(24, 72))
                    if delivered <= now:
                        f.update(status=S.DELIVERED, delivered_at=delivered)
            elif now - failed > REROUTE_WITHIN:
                f["status"] = S.RETURNED
            return f
        if delivered <= now:
            f.update(status=S.DELIVERED, delivered_at=delivered)
        return f
