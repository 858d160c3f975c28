"""Template filters for errors as a person reads them (``{% load error_text %}``)."""

from django import template

from waybill_console.field_labels import field_problems as _field_problems

register = template.Library()


@register.filter
def field_problems(detail):
    """An error's ``detail`` as ``(label, problems)`` pairs: fields by their labels, no
    keys, no codes (see :func:`waybill_console.field_labels.field_problems`)."""
    return _field_problems(detail)
