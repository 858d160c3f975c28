"""Named permissions a main account grants to sub-accounts (and API tokens carry as scopes).

One name per capability, used by services (``actor.require(...)``), the
sub-account page and token scopes alike.
"""

from django.utils.translation import gettext_lazy as _

ADDRESS_MANAGE = "address.manage"
ORDER_MANAGE = "order.manage"
CONSUMER_VIEW = "consumer.view"
WAYBILL_OPEN = "waybill.open"
WAYBILL_ALLOCATE = "waybill.allocate"
WAYBILL_CANCEL = "waybill.cancel"
PRINT = "print"
SHIP = "ship"
DROPSHIP_MANAGE = "dropship.manage"
EXPORT = "export"
ACCOUNT_MANAGE = "account.manage"  # main account only: sub-accounts and tokens

LABELS = {
    ADDRESS_MANAGE: _("Manage shipping addresses"),
    ORDER_MANAGE: _("Handle orders"),
    CONSUMER_VIEW: _("View consumer information"),
    WAYBILL_OPEN: _("Open e-waybill service"),
    WAYBILL_ALLOCATE: _("Allocate waybill numbers"),
    WAYBILL_CANCEL: _("Cancel waybill numbers"),
    PRINT: _("Print labels"),
    SHIP: _("Ship orders"),
    DROPSHIP_MANAGE: _("Dropship management"),
    EXPORT: _("Export"),
    ACCOUNT_MANAGE: _("Manage sub-accounts"),
}

#: permissions a main account can hand to a sub-account
GRANTABLE = [p for p in LABELS if p != ACCOUNT_MANAGE]
ALL = frozenset(LABELS)


def label(name: str) -> str:
    return str(LABELS.get(name, name))
