"""The labels pages give the fields the waybill engine's services check (see
:mod:`waybill_console.field_labels`)."""

from django.utils.translation import gettext_lazy as _

LABELS = {
    "subscription": _("E-waybill service"),
    "package_count": _("Packages"),
    "count": _("Quantity"),
    "order": _("Order"),
    "waybill_no": _("Waybill number"),
    "waybills": _("Waybill numbers"),
    "weight_grams": _("Weight (g)"),
    "occurred_at": _("Time"),
    "from": _("From"),
    "to": _("To"),
    "days": _("Days"),
    "printed": _("Print status"),
    "reconciliation": _("Reconciliation statement"),
    "return_address": _("Return address"),
    "status": _("Status"),
    "format": _("Format"),
}
