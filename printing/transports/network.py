"""Raw TCP (port 9100, "JetDirect"): one connection per document.

Connect, send the document, half-close (``SHUT_WR``: the printer reads end-of-file), then
wait for the printer to close its side: a printer closes only after it has read the whole
document, so that close is the confirmation. A reset, a broken pipe or a timeout before
it means the document is not confirmed (it may or may not have printed).
"""

from __future__ import annotations

from print_agent.printers import SendError, tcp_send
from printing.transports import TransportError

CONNECT_TIMEOUT = 5.0
#: no progress while sending for this long: the printer stopped reading
SEND_TIMEOUT = 20.0
#: after our end-of-file, the printer closes its side within this
CONFIRM_TIMEOUT = 30.0


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

    The same code as the print agent's (``print_agent.printers.tcp_send``: one rule for
    what counts as confirmed). Raises :class:`TransportError`: ``offline`` when no
    connection could be made, ``dropped`` when it broke, ``unconfirmed`` when the printer
    never closed its side.
    """
    try:
        return tcp_send(
            host,
            port,
            data,
            connect_timeout=connect_timeout or CONNECT_TIMEOUT,
            send_timeout=send_timeout or SEND_TIMEOUT,
            confirm_timeout=confirm_timeout or CONFIRM_TIMEOUT,
        )
    except SendError as err:
        raise TransportError(
            err.kind, err.detail, sent=err.sent, total=err.total, seconds=err.seconds
        ) from err
