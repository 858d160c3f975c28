"""取号 for another shop's order: a factory draws a number from **its own** subscription for
a merchant's order it was handed (代发). The factory's account is charged and the waybill
belongs to the factory's shop (its usage details and reconciliation list it); the order
stays the merchant's (its mark is not touched).

The same path as every draw (:mod:`waybills.services.draw`), in two steps so that the
caller can hold its own locks around the write: :func:`waybill_prepare_on_behalf`
resolves, checks, screens, reserves and asks the carrier (outside any transaction);
:func:`waybill_commit_on_behalf` commits inside the caller's transaction (the caller has
locked the order row, which serialises the package numbering of one order), and
:func:`waybill_release_on_behalf` gives everything back when the caller finds that a
concurrent request drew first.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from carriers.gateways import gateway_for
from carriers.models import Subscription
from shops.models import Order
from shops.services.order_states import order_refuse_if_blocked
from waybill_console import permissions as perms
from waybill_console.crypto import mask_code
from waybill_console.tenancy import Actor
from waybills.errors import OrderHasOwnWaybill
from waybills.models import Waybill
from waybills.services import rows as R
from waybills.services.draw import (
    Drawn,
    Package,
    commit_or_release,
    lost_race,
    obtain,
)
from waybills.services.receiver import receiver_of
from waybills.services.resolve import live_waybills, resolve_subscription
from waybills.services.settle import ON_BEHALF_PACKAGE_BASE, next_on_behalf_no

PURPOSE = "allocate_on_behalf"
PACKAGE_BASE = ON_BEHALF_PACKAGE_BASE


def waybill_prepare_on_behalf(
    *,
    actor: Actor,
    order: Order,
    sender: dict | None,
    items: list,
    subscription: int | Subscription | None = None,
    carrier: str = "",
    also_shipped: bool = True,
    now: datetime | None = None,
) -> tuple[Drawn, Subscription]:
    """Resolve, check, screen, reserve the quota and obtain one number from the actor's own
    (or shared) subscription; nothing is committed. The caller has checked it may act on
    ``order``. ``also_shipped``: the order may already be shipped (another factory's part
    went out; items at two factories ship independently)."""
    actor.require(perms.WAYBILL_ALLOCATE)
    shop = actor.require_shop()
    sub = resolve_subscription(actor=actor, subscription=subscription, carrier=carrier)
    order_refuse_if_blocked(order, purpose=PURPOSE, also_shipped=also_shipped)
    order_refuse_if_own_waybill(order, masked=True)
    screen = gateway_for(sub.carrier.code).screen(
        subscription=sub, receiver=receiver_of(order), services=None
    )
    package = Package(
        order=order,
        shop_id=shop.pk,
        screen=screen,
        sender=sender or R.sender_of(sub),  # none given: the subscription's shipping address
        package_from=PACKAGE_BASE + 1,
        items=items,
        purpose=PURPOSE,
    )
    at = now or timezone.now()
    [drawn] = obtain(
        actor_name=actor.describe()[:60],
        sub=sub,
        packages=[package],
        at=at,
        reference=f"order:{order.pk}",
    )
    if drawn.error is not None:
        raise drawn.error
    return drawn, sub


def order_refuse_if_own_waybill(order: Order, *, masked: bool) -> None:
    """One parcel per order: an order that carries a live number of its own shop (the
    merchant's, printed or not) is neither handed to a factory nor given a factory's number
    (代发): two live numbers are two parcels. ORDER_HAS_OWN_WAYBILL names the number; the
    merchant cancels it first. ``masked``: the refusal is read by the factory, which sees
    the merchant's identifiers masked. Numbers drawn by factories (other shops) for the
    order are theirs and do not count."""
    own = live_waybills(order.pk, order.shop_id)
    if own:
        number = own[0].waybill_no
        shown = mask_code(number) if masked else number
        raise OrderHasOwnWaybill(waybill_no=shown, detail={"waybill_no": shown})


def waybill_commit_on_behalf(
    *, actor: Actor, drawn: Drawn, subscription: Subscription
) -> Waybill | None:
    """Commit the obtained number as the order's next factory package (inside the caller's
    transaction, with the order row locked). None when another attempt committed this
    reservation first."""
    drawn.package.first_package_no = next_on_behalf_no(drawn.package.order.pk)
    at = timezone.now()
    commit_or_release(sub=subscription, drawn=[drawn], at=at, actor_name=actor.describe()[:60])
    if not drawn.committed:
        return None
    return Waybill.objects.select_related("carrier", "branch", "subscription", "order").get(
        pk=drawn.rows[0][0]
    )


def waybill_release_on_behalf(*, actor: Actor, drawn: Drawn, subscription: Subscription) -> None:
    """A concurrent request drew first: give the quota back and cancel the unused number at
    the carrier."""
    if drawn.ok:
        lost_race(subscription, [drawn], at=timezone.now(), actor_name=actor.describe()[:60])
