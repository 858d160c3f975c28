"""Carrier gateways: screening (筛单), numbers per order package, query and cancel behind
one protocol (:mod:`carriers.gateways.base`).

Which gateway answers for a carrier is the operator's choice (:class:`GatewayConfig`, set
in the admin or with ``manage.py carrier_gateway``): the built-in sandbox by default, or
an adapter registered here under its kind (Kuaidi100, SF). Adapters are karrio-style: pure
mapping plus I/O through :mod:`carriers.gateways.transport`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from carriers.gateways.base import CarrierGateway, Receiver, ScreenResult  # noqa: F401
from carriers.gateways.builtin import BuiltinGateway

#: kind -> factory(config) building the adapter for one carrier's configuration
KINDS: dict[str, Callable] = {}
#: tests and code that pin a gateway for a carrier code (wins over the configuration)
_GATEWAYS: dict[str, CarrierGateway] = {}
#: carrier code -> (loaded at, gateway): the configuration is read at most every few seconds
_CONFIGURED: dict[str, tuple[float, CarrierGateway]] = {}
_LOCK = threading.Lock()
CONFIG_TTL = 10.0  # seconds: a changed configuration applies within this


def register_kind(kind: str, factory: Callable) -> None:
    KINDS[kind] = factory


def gateway_for(carrier_code: str) -> CarrierGateway:
    pinned = _GATEWAYS.get(carrier_code)
    if pinned is not None:
        return pinned
    now = time.monotonic()
    cached = _CONFIGURED.get(carrier_code)
    if cached and now - cached[0] < CONFIG_TTL:
        return cached[1]
    gateway = _configured(carrier_code)
    with _LOCK:
        _CONFIGURED[carrier_code] = (now, gateway)
    return gateway


def _configured(carrier_code: str) -> CarrierGateway:
    from carriers.models import GatewayConfig

    config = GatewayConfig.objects.filter(carrier__code=carrier_code).first()
    if config is None or config.kind == GatewayConfig.Kind.BUILTIN:
        return _DEFAULT
    factory = KINDS.get(config.kind)
    if factory is None:  # an adapter not installed in this process: say so, never guess
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"no gateway adapter registered for kind {config.kind!r}")
    return factory(config)


def gateways_forget() -> None:
    """Drop the cached configurations (after a change, and between tests)."""
    with _LOCK:
        _CONFIGURED.clear()


def register(carrier_code: str, gateway: CarrierGateway) -> None:
    _GATEWAYS[carrier_code] = gateway


_DEFAULT = BuiltinGateway()
