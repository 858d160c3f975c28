"""The labels pages give the fields the carriers app's services check (see
:mod:`waybill_console.field_labels`): the opening wizard, recharges, gateways."""

from django.utils.translation import gettext_lazy as _

LABELS = {
    "carrier": _("Carrier"),
    "branch": _("Branch"),
    "address": _("Shipping address"),
    "contact_name": _("Contact"),
    "contact_phone": _("Contact phone"),
    "agree": _("E-waybill service agreement"),
    "monthly_account": _("Monthly account"),
    "secret_key": _("Secret key (from the branch)"),
    "count": _("Quantity"),
    "amount": _("Quantity"),
    "shops": _("Shops"),
    # a carrier gateway (ops)
    "kind": _("Kind"),
    "key": _("Account key"),
    "secret": _("Secret"),
    "url": _("URL"),
    "poll_url": _("Tracking subscription URL"),
    "callback_salt": _("Push salt"),
}
