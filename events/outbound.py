"""Where the server may post webhooks, and the HTTP client that posts them.

A shop types a URL and the server connects to it: without a rule that is a way into the
server's own network (its Redis, its PostgreSQL, a cloud metadata address at
169.254.169.254). A webhook may go to a **public** address only: loopback, private,
link-local, multicast, reserved and unspecified addresses are refused, unless the
operator lists their networks in ``WEBHOOK_ALLOWED_NETWORKS`` (comma-separated CIDRs,
empty by default).

The rule is applied twice: when an endpoint is saved (:func:`url_check`, a clear error on
the form), and **at connect time** (:class:`GuardedBackend`): the host is resolved once,
every address it resolves to is checked, and the connection goes to exactly the address
checked, so a name that resolves elsewhere later (DNS rebinding) gains nothing. Answers
are never followed on redirect, and time-outs are short (``WEBHOOK_CONNECT_TIMEOUT``,
``WEBHOOK_TIMEOUT``).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings

from waybill_console.networks import IpAddress, ip_in, parse_networks, setting_items, unmapped


class AddressRefused(Exception):
    """The URL points where webhooks may not go; ``address`` is the refused address."""

    def __init__(self, address: str):
        super().__init__(address)
        self.address = address


def allowed_networks():
    return parse_networks(
        setting_items(settings.WEBHOOK_ALLOWED_NETWORKS), setting="WEBHOOK_ALLOWED_NETWORKS"
    )


def ip_allowed(ip: IpAddress) -> bool:
    """A public address, or one in a network the operator allowed (an IPv4-mapped IPv6
    address is the IPv4 address it carries: ``::ffff:127.0.0.1`` is loopback)."""
    if ip_in(ip, allowed_networks()):
        return True
    ip = unmapped(ip)
    return ip.is_global and not ip.is_multicast


def resolve_checked(host: str, port: int) -> list[tuple]:
    """Every address ``host`` resolves to, as ``getaddrinfo`` gives them; AddressRefused
    when any one of them may not be reached (a name must not mix public and internal
    addresses), OSError when it does not resolve."""
    infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    for info in infos:
        address = info[4][0]
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not ip_allowed(ip):
            raise AddressRefused(address)
    return infos


def url_check(url: str) -> None:
    """The address rule at save time, for a URL whose shape the endpoint service checked
    (http(s), a host, no user info: ``events.services.endpoints``): AddressRefused for a
    refused address, OSError when the host does not resolve."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    resolve_checked(parts.hostname or "", port)


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's network backend that resolves, checks and connects to the checked
    address only (TLS still verifies the certificate against the URL's host name)."""

    def __init__(self):
        self._sync = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        try:
            infos = resolve_checked(host, port)
        except AddressRefused:
            raise
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        last: Exception | None = None
        for info in infos:
            try:
                return self._sync.connect_tcp(
                    info[4][0], port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:  # try the name's next address
                last = exc
        raise last or httpcore.ConnectError(f"{host}: no address")

    def connect_unix_socket(self, *args, **kwargs):  # pragma: no cover - never asked
        raise httpcore.ConnectError("unix sockets are not webhook targets")

    def sleep(self, seconds):
        self._sync.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport over :class:`GuardedBackend` (no proxy from the environment:
    a proxy would connect where we did not check)."""

    def __init__(self, *, max_connections: int):
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
            network_backend=GuardedBackend(),
        )


_lock = threading.Lock()
_clients: dict[tuple, httpx.Client] = {}


def client() -> httpx.Client:
    """One keep-alive client per process (rebuilt after a fork) and configuration."""
    import os

    key = (
        os.getpid(),
        settings.WEBHOOK_CONNECT_TIMEOUT,
        settings.WEBHOOK_TIMEOUT,
        tuple(str(n) for n in allowed_networks()),
    )
    found = _clients.get(key)
    if found is not None:
        return found
    with _lock:
        found = _clients.get(key)
        if found is None:
            found = httpx.Client(
                transport=GuardedTransport(max_connections=4 * settings.WEBHOOK_CONCURRENCY),
                timeout=httpx.Timeout(
                    settings.WEBHOOK_TIMEOUT, connect=settings.WEBHOOK_CONNECT_TIMEOUT
                ),
                follow_redirects=False,
                trust_env=False,
                headers={"user-agent": "WaybillConsole-Webhooks/1"},
            )
            _clients.clear()
            _clients[key] = found
    return found
