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
WEBHOOK_MANAGE = "webhook.manage"
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
    WEBHOOK_MANAGE: _("Webhooks (event push)"),
    ACCOUNT_MANAGE: _("Manage sub-accounts"),
}

#: one line under each label on the sub-account page: what the permission lets one do
HINTS = {
    ADDRESS_MANAGE: _("Add, edit and delete the shop's shipping addresses."),
    ORDER_MANAGE: _(
        "Import orders, mark them paid, answer cancellations, after-sales, edit receivers."
    ),
    CONSUMER_VIEW: _("See receivers' full names, phones and addresses; every view is recorded."),
    WAYBILL_OPEN: _("Apply for, set as default and cancel e-waybill services."),
    WAYBILL_ALLOCATE: _("Allocate waybill numbers, one order or a batch; retry exceptions."),
    WAYBILL_CANCEL: _("Cancel waybill numbers that were not used."),
    PRINT: _("Print labels and pick lists; printers, print agents and label templates."),
    SHIP: _("Ship orders, scan to ship, mark ready to ship, re-route."),
    DROPSHIP_MANAGE: _("Bind factories and hand orders to them to ship."),
    EXPORT: _("Export orders and reconciliation files (consumer data masked)."),
    WEBHOOK_MANAGE: _("Add, change and test the addresses events are pushed to; see deliveries."),
    ACCOUNT_MANAGE: _("Sub-accounts, their permissions and passwords."),
}

#: the sub-account page's grid: the grantable permissions by area
GROUPS = [
    (_("Orders"), [ORDER_MANAGE, CONSUMER_VIEW, EXPORT]),
    (_("E-waybills"), [WAYBILL_OPEN, WAYBILL_ALLOCATE, WAYBILL_CANCEL]),
    (_("Printing and shipping"), [PRINT, SHIP]),
    (_("Dropship"), [DROPSHIP_MANAGE]),
    (_("Shop settings"), [ADDRESS_MANAGE, WEBHOOK_MANAGE]),
]

#: permissions a main account can hand to a sub-account
GRANTABLE = [p for p in LABELS if p != ACCOUNT_MANAGE]
ALL = frozenset(LABELS)


def label(name: str) -> str:
    return str(LABELS.get(name, name))


def grid() -> list[dict]:
    """The grantable permissions by area, each with its label and hint (for the page)."""
    return [
        {
            "title": title,
            "permissions": [{"code": p, "label": LABELS[p], "hint": HINTS[p]} for p in names],
        }
        for title, names in GROUPS
    ]
