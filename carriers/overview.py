"""概览's balances: one figure per e-waybill service the shop draws numbers from, by the
carrier's name (registered with ``shops.overview`` in ``carriers.apps``)."""

from __future__ import annotations

from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from carriers import selectors
from carriers.models import NetworkType
from shops.overview import BALANCE, Figure
from waybill_console.tenancy import Actor


def balance_figures(*, actor: Actor) -> list[Figure]:
    """Each drawing service's balance (a direct carrier's: its monthly account), low ones
    marked; a link to that service's usage details."""
    figures = []
    for sub in selectors.subscription_balance_list(actor=actor):
        direct = sub.carrier.network_type == NetworkType.DIRECT
        figures.append(
            Figure(
                key=f"balance-{sub.pk}",
                label=f"{sub.carrier.name} · {sub.branch.name}",
                value=_("Monthly account") if direct else sub.balance,
                url=reverse("console:waybill_usage") + "?" + urlencode({"subscription": sub.pk}),
                group=BALANCE,
                attention=selectors.balance_is_low(sub),
                note=_("Shared") if sub.shop_id != actor.shop_id else "",
            )
        )
    return figures
