"""Raw TCP (port 9100, "JetDirect"): one connection per document.

Connect, send the document, half-close (``SHUT_WR``: the printer reads end-of-file), then
wait for the printer to close its side: a printer closes only after it has read the whole
document, so that close is the confirmation. A reset, a broken pipe or a timeout before
it means the document is not confirmed (it may or may not have printed).
"""

from __future__ import annotations

import errno
import socket
import time

from printing.transports import DROPPED, OFFLINE, UNCONFIRMED, TransportError

CONNECT_TIMEOUT = 5.0
#: no progress while sending for this long: the printer stopped reading
SEND_TIMEOUT = 20.0
#: after our end-of-file, the printer closes its side within this
CONFIRM_TIMEOUT = 30.0
CHUNK = 16 * 1024


def _detail(err: OSError) -> str:
    if isinstance(err, TimeoutError):
        return "timeout"
    if isinstance(err, ConnectionRefusedError):
        return "refused"
    if isinstance(err, ConnectionResetError):
        return "reset"
    if isinstance(err, BrokenPipeError):
        return "broken pipe"
    if isinstance(err, socket.gaierror):
        return "unknown host"
    if err.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "unreachable"
    return err.strerror or err.__class__.__name__


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

    Raises :class:`TransportError`: ``offline`` when no connection could be made,
    ``dropped`` when it broke, ``unconfirmed`` when the printer never closed its side.
    Timeouts default to the module's settings.
    """
    connect_timeout = connect_timeout or CONNECT_TIMEOUT
    send_timeout = send_timeout or SEND_TIMEOUT
    confirm_timeout = confirm_timeout or CONFIRM_TIMEOUT
    total = len(data)
    try:
        sock = socket.create_connection((host, int(port)), timeout=connect_timeout)
    except OSError as err:
        raise TransportError(OFFLINE, _detail(err), total=total) from err
    sent = 0
    with sock:
        sock.settimeout(send_timeout)
        view = memoryview(data)
        try:
            while sent < total:
                sent += sock.send(view[sent : sent + CHUNK])
        except OSError as err:
            raise TransportError(DROPPED, _detail(err), sent=sent, total=total) from err
        deadline = time.monotonic() + confirm_timeout
        try:
            sock.shutdown(socket.SHUT_WR)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                sock.settimeout(left)
                if not sock.recv(4096):  # status bytes, if any, are not a confirmation
                    break
        except TimeoutError as err:
            raise TransportError(
                UNCONFIRMED, "timeout", sent=sent, total=total, seconds=confirm_timeout
            ) from err
        except OSError as err:
            raise TransportError(DROPPED, _detail(err), sent=sent, total=total) from err
    return sent
