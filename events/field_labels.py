"""The labels pages give the fields the webhook services check (see
:mod:`waybill_console.field_labels`)."""

from django.utils.translation import gettext_lazy as _

LABELS = {
    "url": _("URL"),
    "description": _("Description"),
    "event_types": _("Events"),
    # the API's name of the same field (shared/API.md)
    "events": _("Events"),
    "is_enabled": _("Enabled"),
}
