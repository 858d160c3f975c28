"""``{% load carrier_names %}``: ``{{ order.carrier_code|carrier_name }}`` reads 中通快递."""

from django import template

from carriers.selectors import carrier_name as _carrier_name

register = template.Library()


@register.filter
def carrier_name(code):
    """The carrier's name for its code (lists show carriers by name, never by code)."""
    return _carrier_name(code)
