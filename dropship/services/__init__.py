"""Dropship (代发管理) services: identity and bindings, allocation, the factory's side and
shipping, prices and statements (see each module's docstring for its rules)."""

from dropship.services.allocation import (
    allocation_cancel,
    allocation_create,
    allocations_cancel_for_order,
)
from dropship.services.factory import (
    factory_order_draw,
    factory_order_print,
    factory_order_return,
    factory_order_ship,
    factory_order_ship_batch,
)
from dropship.services.identity import (
    binding_confirm,
    binding_reject,
    binding_request,
    binding_unbind,
    profile_for,
    profile_update,
)
from dropship.services.statements import price_sheet, prices_set, statement_start

__all__ = [
    "allocation_cancel",
    "allocation_create",
    "allocations_cancel_for_order",
    "binding_confirm",
    "binding_reject",
    "binding_request",
    "binding_unbind",
    "factory_order_draw",
    "factory_order_print",
    "factory_order_return",
    "factory_order_ship",
    "factory_order_ship_batch",
    "price_sheet",
    "prices_set",
    "profile_for",
    "profile_update",
    "statement_start",
]
