"""Ways to reach a printer: raw TCP (``network``), USB on the server host (``usb``) and the
print agent on a packing PC (``agent``, pulled over HTTP).

A transport sends one document (one label) at a time and says whether the printer
confirmed it; every failure is a :class:`TransportError` whose ``kind`` the print job
turns into the attempt's reason.
"""

from __future__ import annotations

#: the printer could not be reached at all (nothing was sent)
OFFLINE = "offline"
#: the connection broke while sending or before the printer confirmed
DROPPED = "dropped"
#: everything was sent but the printer did not confirm in time
UNCONFIRMED = "unconfirmed"
#: the device or spooler refused the data
FAILED = "failed"
#: the printer's address or port is not one printers may be on (nothing was sent); the
#: detail says which: ``host`` or ``port``
BLOCKED = "blocked"

KINDS = (OFFLINE, DROPPED, UNCONFIRMED, FAILED, BLOCKED)


class TransportError(Exception):
    """A document that was not confirmed: ``kind`` (one of :data:`KINDS`), what happened
    (``detail``: a short English key such as ``timeout`` or ``refused``, or the system's
    own text), and how many of the document's bytes went out."""

    def __init__(
        self, kind: str, detail: str = "", *, sent: int = 0, total: int = 0, seconds: float = 0
    ):
        super().__init__(f"{kind}: {detail} ({sent}/{total} bytes)")
        self.kind = kind
        self.detail = detail
        self.sent = sent
        self.total = total
        self.seconds = seconds
