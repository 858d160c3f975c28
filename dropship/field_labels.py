"""The labels pages give the fields the dropship app's services check (see
:mod:`waybill_console.field_labels`)."""

from django.utils.translation import gettext_lazy as _

LABELS = {
    "identity": _("Identity"),
    "display_name": _("Display name"),
    "sender_name": _("Sender"),
    "sender_phone": _("Sender's phone"),
    "sender_province": _("Province"),
    "sender_city": _("City"),
    "sender_district": _("District"),
    "sender_detail": _("Detailed address"),
    "factory": _("Factory"),
    "factory_shop_no": _("Factory shop ID"),
    "merchant": _("Merchant"),
    "order_items": _("Order items"),
    "factory_orders": _("Dropship orders"),
    "prices": _("Settlement prices"),
    "price": _("Price"),
    "order": _("Order"),
    "date_from": _("From"),
    "date_to": _("To"),
    "format": _("Format"),
    "carrier": _("Carrier"),
    "tracking_no": _("Tracking number"),
    "return_address": _("Return address"),
}
