"""Carrier gateways: screening (筛单), number issue and cancel behind one interface.

Real carrier adapters (karrio-style: pure mapping plus I/O) plug in behind
:class:`CarrierGateway`; :func:`gateway_for` picks one per carrier. The built-in gateway
answers from branch coverage and a PostgreSQL sequence per carrier.
"""

from carriers.gateways.base import CarrierGateway, Receiver, ScreenResult  # noqa: F401
from carriers.gateways.builtin import BuiltinGateway

_GATEWAYS: dict[str, CarrierGateway] = {}


def gateway_for(carrier_code: str) -> CarrierGateway:
    return _GATEWAYS.get(carrier_code, _DEFAULT)


def register(carrier_code: str, gateway: CarrierGateway) -> None:
    _GATEWAYS[carrier_code] = gateway


_DEFAULT = BuiltinGateway()
