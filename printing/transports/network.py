"""Raw TCP (port 9100, "JetDirect"): one connection per document.

Connect, send the document, half-close (``SHUT_WR``: the printer reads end-of-file), then
wait for the printer to close its side: a printer closes only after it has read the whole
document, so that close is the confirmation. A reset, a broken pipe or a timeout before
it means the document is not confirmed (it may or may not have printed).

**Where a printer may be.** A shop types its printer's host and port, and the server
connects to them: without a rule that is a port scanner of the server's own network (its
Redis, its PostgreSQL, a cloud metadata address). A network printer must be on an
address of ``PRINTER_ALLOWED_NETWORKS`` (default: the private LAN ranges 10/8, 172.16/12,
192.168/16 and IPv6 ULA fc00::/7; loopback, link-local, multicast, unspecified and public
addresses are refused) and a port of ``PRINTER_ALLOWED_PORTS`` (default 9100-9109).
:func:`address_check` is that rule: the printer forms call it when a printer is saved,
and :func:`send` calls it again on every connection, resolving the host once and
connecting to exactly the address it checked (a name can resolve elsewhere by then).
"""

from __future__ import annotations

import ipaddress
import socket
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from print_agent.printers import OFFLINE as AGENT_OFFLINE
from print_agent.printers import SendError, tcp_send
from printing.transports import BLOCKED, OFFLINE, TransportError
from waybill_console.networks import IpAddress, IpNetwork, ip_in, parse_networks, setting_items

CONNECT_TIMEOUT = 5.0
#: no progress while sending for this long: the printer stopped reading
SEND_TIMEOUT = 20.0
#: after our end-of-file, the printer closes its side within this
CONFIRM_TIMEOUT = 30.0

#: a test page (测试打印) gives up sooner: the page waits for its answer
TEST_CONNECT_TIMEOUT = 3.0
TEST_SEND_TIMEOUT = 5.0
TEST_CONFIRM_TIMEOUT = 10.0


# --- where a printer may be -------------------------------------------------------------------


@lru_cache(maxsize=16)
def parse_ports(value: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """``("9100-9109", "515")`` as inclusive ranges; a bad entry is a configuration error."""
    ranges = []
    for item in value:
        low, _sep, high = item.partition("-")
        try:
            first, last = int(low), int(high or low)
        except ValueError:
            first, last = 0, -1
        if not 1 <= first <= last <= 65535:
            raise ImproperlyConfigured(
                f"PRINTER_ALLOWED_PORTS: {item!r} is not a port or a range (e.g. 9100-9109)"
            )
        ranges.append((first, last))
    return tuple(ranges)


def allowed_networks() -> tuple[IpNetwork, ...]:
    return parse_networks(
        setting_items(settings.PRINTER_ALLOWED_NETWORKS), setting="PRINTER_ALLOWED_NETWORKS"
    )


def allowed_ports() -> tuple[tuple[int, int], ...]:
    return parse_ports(setting_items(settings.PRINTER_ALLOWED_PORTS))


def port_allowed(port: int) -> bool:
    return any(low <= port <= high for low, high in allowed_ports())


def ip_allowed(ip: IpAddress) -> bool:
    """Whether ``ip`` is in an allowed network (an IPv4-mapped IPv6 address counts as the
    IPv4 address it carries, so ``::ffff:127.0.0.1`` is loopback)."""
    return ip_in(ip, allowed_networks())


class AddressRefused(Exception):
    """``field`` is ``port`` or ``host``; ``address`` the refused address (for ``host``)."""

    def __init__(self, field: str, address: str = ""):
        super().__init__(field, address)
        self.field, self.address = field, address


def _literal(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def host_addresses(host: str, port: int = 9100) -> list[str]:
    """The addresses ``host`` stands for, every one of them allowed, else
    :class:`AddressRefused` (``host``). An IP literal is checked as written; a name is
    resolved once (``getaddrinfo``: ``localhost``, ``127.1`` and ``2130706433`` all come
    back as 127.0.0.1) and every address it gives must be allowed, so a name that mixes a
    LAN printer with a loopback address is refused. A name that does not resolve raises
    ``OSError`` (``socket.gaierror``)."""
    literal = _literal(host)
    if literal is not None:
        if not ip_allowed(literal):
            raise AddressRefused("host", str(literal))
        return [str(literal)]
    infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    for address in addresses:
        ip = _literal(address)
        if ip is None or not ip_allowed(ip):
            raise AddressRefused("host", address)
    return addresses


def address_check(host: str, port: int) -> list[str]:
    """The addresses to connect to for ``host:port``: the port must be allowed, and every
    address the host stands for (:func:`host_addresses`)."""
    if not port_allowed(int(port)):
        raise AddressRefused("port")
    return host_addresses(host, port)


# --- sending ----------------------------------------------------------------------------------


def send(
    host: str,
    port: int,
    data: bytes,
    *,
    connect_timeout: float | None = None,
    send_timeout: float | None = None,
    confirm_timeout: float | None = None,
) -> int:
    """Send one document and wait for the printer's confirmation; returns the bytes sent.

    The host is resolved once and checked (:func:`address_check`); the connection goes to
    the checked address itself, never to the name again. The same code as the print
    agent's (``print_agent.printers.tcp_send``: one rule for what counts as confirmed).
    Raises :class:`TransportError`: ``blocked`` when the address or port is not allowed
    (nothing was sent, no connection made), ``offline`` when no connection could be
    made, ``dropped`` when it broke, ``unconfirmed`` when the printer never closed its
    side."""
    total = len(data)
    try:
        addresses = address_check(host, port)
    except AddressRefused as refused:
        raise TransportError(BLOCKED, refused.field, total=total) from None
    except (OSError, UnicodeError):
        raise TransportError(OFFLINE, "unknown host", total=total) from None
    for i, address in enumerate(addresses):
        try:
            return tcp_send(
                address,
                port,
                data,
                connect_timeout=connect_timeout or CONNECT_TIMEOUT,
                send_timeout=send_timeout or SEND_TIMEOUT,
                confirm_timeout=confirm_timeout or CONFIRM_TIMEOUT,
            )
        except SendError as err:
            if err.kind == AGENT_OFFLINE and i + 1 < len(addresses):
                continue  # nothing was sent: try the name's next address
            raise TransportError(
                err.kind, err.detail, sent=err.sent, total=err.total, seconds=err.seconds
            ) from err
    raise TransportError(OFFLINE, "unknown host", total=total)
