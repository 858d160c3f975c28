"""What dropship tells each side (``events``), in the transaction of the change:

* to the **factory**: an order handed to it (``dropship.allocation.created``) or taken back
  (``dropship.allocation.cancelled``), as its API shows the order
  (:func:`dropship.selectors.factory_view`: the merchant's id and order number masked,
  the receiver masked, never in plain text); a merchant asking to bind
  (``dropship.binding.requested``), as the bindings API shows it to the factory;
* to the **merchant**: the number a factory returned for its items
  (``dropship.number.returned``), one event per item handed over, as its allocations API
  shows them.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.urls import reverse

from dropship.models import Allocation, Binding, FactoryOrder
from events.services.outbox import emit, emit_many, wanted
from events.services.outbox_sql import api_json

ALLOCATION_CREATED = "dropship.allocation.created"
ALLOCATION_CANCELLED = "dropship.allocation.cancelled"
NUMBER_RETURNED = "dropship.number.returned"
BINDING_REQUESTED = "dropship.binding.requested"


def factory_orders_emit(type_name: str, factory_order_ids: Iterable[int]) -> int:
    """One event per factory order, to its factory, as the factory's API shows it."""
    from dropship.api.serializers import FactoryOrderSerializer
    from dropship.selectors import factory_view, prices_for, with_factory_view

    ids = sorted(set(factory_order_ids))
    if not ids:
        return 0
    rows = list(with_factory_view(FactoryOrder.objects.filter(pk__in=ids)).order_by("pk"))
    rows = [fo for fo in rows if wanted(fo.factory_id, type_name)]
    if not rows:
        return 0
    prices = prices_for(rows)
    link = reverse("factory:orders")
    return emit_many(
        type_name,
        [
            (fo.factory_id, api_json(FactoryOrderSerializer(factory_view(fo, prices)).data), link)
            for fo in rows
        ],
    )


def number_returned_emit(factory_order: FactoryOrder) -> int:
    """The merchant's items of the factory order now carry the factory's number."""
    from dropship.api.serializers import AllocationSerializer

    if not wanted(factory_order.merchant_id, NUMBER_RETURNED):
        return 0
    rows = (
        Allocation.objects.filter(
            factory_order_id=factory_order.pk, status=Allocation.Status.ALLOCATED
        )
        .select_related("order", "order_item", "factory", "factory_order")
        .order_by("pk")
    )
    link = reverse("console:dropship_orders")
    return emit_many(
        NUMBER_RETURNED,
        [(a.merchant_id, api_json(AllocationSerializer(a).data), link) for a in rows],
    )


def binding_requested_emit(binding: Binding) -> bool:
    """A merchant asks the factory to bind: the factory is told, with the binding as its
    API shows it to the factory (the merchant's id masked)."""
    from dropship.api.serializers import BindingSerializer

    data = BindingSerializer(binding, context={"shop_id": binding.factory_id}).data
    return emit(
        binding.factory_id,
        BINDING_REQUESTED,
        api_json(data),
        link=reverse("factory:bindings"),
    )
