"""概览's waybill figures: 面单异常 waiting for a retry and 未打印 numbers (registered with
``shops.overview`` in ``waybills.apps``)."""

from __future__ import annotations

from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from shops.overview import Figure
from waybill_console.tenancy import Actor
from waybills import selectors


def waybill_figures(*, actor: Actor) -> list[Figure]:
    exceptions = selectors.exception_list(actor=actor).count()  # the open ones' partial index
    unprinted = selectors.waybill_unprinted_count(actor=actor)
    return [
        Figure(
            "exception-count",
            _("Allocation exceptions"),
            exceptions,
            reverse("console:waybill_exceptions"),
            attention=exceptions > 0,
        ),
        Figure(
            "unprinted-count",
            _("Not printed"),
            unprinted,
            reverse("console:waybill_usage") + "?" + urlencode(selectors.UNPRINTED.as_params()),
            attention=unprinted > 0,
        ),
    ]
