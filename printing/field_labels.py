"""The labels pages give the fields the printing app's services check (see
:mod:`waybill_console.field_labels`): label templates, printers, print agents, jobs."""

from django.utils.translation import gettext_lazy as _

LABELS = {
    "name": _("Name"),
    "carrier": _("Carrier"),
    "size": _("Size"),
    "template": _("Label template"),
    "free_text": _("Free text"),
    "watermark": _("Watermark"),
    "custom_fields": _("Custom fields"),
    "kind": _("Kind"),
    "connection": _("Connection"),
    "host": _("Host or IP address"),
    "port": _("Port"),
    "usb_vendor_id": _("Vendor id (hex)"),
    "usb_product_id": _("Product id (hex)"),
    "agent": _("Print agent"),
    "agent_target": _("Printer on the agent's PC"),
    "dpi": _("dpi"),
    "offset_x_mm": _("x offset (mm)"),
    "offset_y_mm": _("y offset (mm)"),
    "paper_width_mm": _("Paper width (mm)"),
    "paper_height_mm": _("Paper height (mm)"),
    "printer": _("Printer"),
    "print_target": _("Printer"),
    "waybills": _("Waybill numbers"),
    "format": _("Format"),
}
