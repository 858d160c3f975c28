"""What a carrier is told of an order's receiver: the division for screening and the
request, the rest revealed (and audited) only when an adapter builds its request."""

from __future__ import annotations

from carriers.gateways.base import Receiver
from shops.models import Order


def receiver_of(order: Order) -> Receiver:
    """What the carrier is told of the receiver. The street stays sealed here (the
    built-in gateway screens on the division); a real carrier's adapter opens it when it
    builds its request."""
    return Receiver(
        province=order.receiver_province,
        city=order.receiver_city,
        district=order.receiver_district,
        detail=None,
    )


def receiver_reveal_for_carrier(order: Order) -> dict:
    """The receiver in full for the carrier's request (decrypted here, audited as
    ``carrier_order``)."""
    from waybill_console.crypto import reveal
    from waybill_console.tenancy import Actor

    values = reveal(
        order,
        ["receiver_name", "receiver_phone", "receiver_detail"],
        actor=Actor.system(shop=order.shop),
        purpose="carrier_order",
    )
    return {
        "name": values["receiver_name"],
        "phone": values["receiver_phone"],
        "detail": values["receiver_detail"],
    }
