"""Networks an operator allows the server to connect to (network printers, webhooks).

One reading of a ``…_ALLOWED_NETWORKS`` setting (comma-separated CIDRs, or a list) and one
membership test, used by every outbound rule: an IPv4-mapped IPv6 address counts as the
IPv4 address it carries, so ``::ffff:127.0.0.1`` is loopback wherever it is checked.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.core.exceptions import ImproperlyConfigured

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def setting_items(value) -> tuple[str, ...]:
    """A comma-separated setting (or a list) as its non-empty, stripped items."""
    if isinstance(value, str):
        value = value.split(",")
    return tuple(str(v).strip() for v in value or () if str(v).strip())


@lru_cache(maxsize=32)
def parse_networks(value: tuple[str, ...], *, setting: str) -> tuple[IpNetwork, ...]:
    """``("10.0.0.0/8", "fc00::/7", …)`` as networks; a bad entry is a configuration error
    naming ``setting``."""
    networks = []
    for item in value:
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"{setting}: {item!r} is not a network (CIDR, e.g. 10.0.0.0/8)"
            ) from None
    return tuple(networks)


def unmapped(ip: IpAddress) -> IpAddress:
    """The IPv4 address an IPv4-mapped IPv6 address carries, else ``ip``."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def ip_in(ip: IpAddress, networks: tuple[IpNetwork, ...]) -> bool:
    ip = unmapped(ip)
    return any(ip.version == net.version and ip in net for net in networks)
