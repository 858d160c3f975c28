"""概览: the figures of the console's home page, each a link to the list it counts.

Shops counts its orders; the apps above it (carriers: the balances, waybills: 面单异常 and
未打印) add theirs with :func:`register_figures` from their ``AppConfig.ready()``, so
shops never imports them. Each figure is one selector of the app that owns the data,
scoped to the actor's shop, a count over an index."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from shops.models import OrderStatus
from shops.selectors import OrderFilters, order_list
from waybill_console.tenancy import Actor

#: what the page shows first: work waiting (counts), then the services' balances
TODO = "todo"
BALANCE = "balance"


@dataclass(frozen=True)
class Figure:
    #: a stable name (the page's ``data-testid``)
    key: str
    label: str
    value: int | str
    #: the list that shows what is counted
    url: str
    group: str = TODO
    #: needs someone's attention (shown highlighted): work waiting, a balance running low
    attention: bool = False
    note: str = ""


#: ``fn(*, actor) -> list[Figure]`` added by the apps above shops
FIGURE_SOURCES: list[Callable[..., list[Figure]]] = []


def register_figures(source: Callable[..., list[Figure]]) -> None:
    if source not in FIGURE_SOURCES:
        FIGURE_SOURCES.append(source)


def order_at_risk_count(*, actor: Actor, now: datetime | None = None) -> int:
    """Orders whose next deadline (pay, ship, pickup …) is within ``AT_RISK_WINDOW`` or
    past: the order list's "SLA at risk" filter, counted (the ``order_shop_sla_due``
    index)."""
    return order_list(actor=actor, filters=OrderFilters(at_risk=True), now=now).count()


def _orders_url(**params) -> str:
    return reverse("console:order_list") + "?" + urlencode(params)


def order_figures(*, actor: Actor) -> list[Figure]:
    orders = order_list(actor=actor)
    at_risk = order_at_risk_count(actor=actor)
    return [
        Figure("order-count", _("Orders"), orders.count(), reverse("console:order_list")),
        Figure(
            "awaiting-count",
            _("Awaiting shipment"),
            orders.filter(status=OrderStatus.PAID).count(),
            _orders_url(status=OrderStatus.PAID.value),
        ),
        Figure(
            "at-risk-count",
            _("SLA at risk"),
            at_risk,
            _orders_url(at_risk="1"),
            attention=at_risk > 0,
        ),
    ]


def overview_figures(*, actor: Actor) -> dict[str, list[Figure]]:
    """Every figure of the page, by group (:data:`TODO`, :data:`BALANCE`)."""
    groups: dict[str, list[Figure]] = {TODO: [], BALANCE: []}
    for figure in [
        *order_figures(actor=actor),
        *(f for s in FIGURE_SOURCES for f in s(actor=actor)),
    ]:
        groups.setdefault(figure.group, []).append(figure)
    return groups
