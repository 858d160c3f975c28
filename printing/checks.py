"""Startup checks of the printing settings (``manage.py check``, every management command)."""

from django.core import checks
from django.core.exceptions import ImproperlyConfigured


@checks.register(checks.Tags.security)
def printer_address_settings(app_configs, **kwargs) -> list:
    """``PRINTER_ALLOWED_NETWORKS`` and ``PRINTER_ALLOWED_PORTS`` must parse: a typo would
    otherwise surface only when a printer is saved or a label sent."""
    from printing.transports import network

    try:
        network.allowed_networks()
        network.allowed_ports()
    except ImproperlyConfigured as err:
        return [checks.Error(str(err), id="printing.E001")]
    return []
