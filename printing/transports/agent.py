"""The print agent's side of the wire: it pulls jobs over HTTPS and reports each document.

The agent (``print_agent/``, a separate program on the packing PC) polls
``GET /api/v1/agent/jobs/next/``; the answer names the printer on the agent's PC
(``target``) and carries the unconfirmed documents as base64. The agent sends them in
order, stops at the first failure like the server's own transports, and posts
``POST /api/v1/agent/jobs/{id}/result/`` with one entry per document it tried.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from printing.transports import KINDS, TransportError
from waybill_console.errors import ValidationError

#: bytes and seconds an agent reports stay far below this (a label is well under 10 MB)
MAX_NUMBER = 1_000_000_000

TARGET = re.compile(
    r"^(?:tcp://(?P<host>[A-Za-z0-9.\-\[\]:]+):(?P<port>\d{1,5})"
    r"|usb://(?P<vid>[0-9A-Fa-f]{1,4}):(?P<pid>[0-9A-Fa-f]{1,4})"
    r"|win://(?P<name>.{1,100}))$"
)


def target_check(target: str) -> str:
    """``tcp://host:port``, ``usb://VID:PID`` (hex) or ``win://Printer Name``."""
    target = (target or "").strip()
    match = TARGET.match(target)
    if not match or (match["port"] and not 0 < int(match["port"]) < 65536):
        raise ValidationError.for_fields(
            agent_target="tcp://host:9100, usb://VID:PID (hex) or win://Printer Name."
        )
    return target


def job_payload(job, attempt, documents: list[tuple]) -> dict:
    """What the agent receives: the job, the attempt to report against, the printer and
    each document's bytes."""
    printer = job.printer
    return {
        "job": job.pk,
        "attempt": attempt.pk,
        "printer": {
            "id": printer.pk,
            "name": printer.name,
            "kind": printer.kind,
            "target": printer.agent_target,
            "dpi": printer.dpi,
        },
        "documents": [
            {
                "sequence": doc.sequence,
                "waybill_no": doc.waybill.waybill_no if doc.waybill_id else "",
                "is_reprint": doc.is_reprint,
                "size": len(data),
                "data": base64.b64encode(data).decode("ascii"),
            }
            for doc, data in documents
        ],
    }


@dataclass(frozen=True)
class DocumentResult:
    sequence: int
    ok: bool
    bytes_sent: int
    error: TransportError | None = None


def _int(value, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationError.for_fields(**{field: "A whole number."})
    try:
        number = int(value)
    except ValueError:
        raise ValidationError.for_fields(**{field: "A whole number."}) from None
    if not 0 <= number <= MAX_NUMBER:
        raise ValidationError.for_fields(**{field: f"From 0 to {MAX_NUMBER}."})
    return number


def results_parse(entries) -> list[DocumentResult]:
    """``[{"sequence", "ok", "bytes_sent", "error": {"kind", "detail", "sent", "total"}}]``
    (``error`` may also be a plain string), in the order the agent sent them."""
    if not isinstance(entries, list):
        raise ValidationError.for_fields(documents="A list of results.")
    out = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("ok"), bool):
            raise ValidationError.for_fields(
                documents="Each result has sequence, ok (true/false) and bytes_sent."
            )
        sequence = _int(entry.get("sequence"), "sequence")
        sent = _int(entry.get("bytes_sent", 0), "bytes_sent")
        error = None
        if not entry["ok"]:
            raw = entry.get("error") or {}
            if isinstance(raw, str):
                raw = {"kind": "failed", "detail": raw}
            if not isinstance(raw, dict):
                raise ValidationError.for_fields(error="An object: kind, detail, sent, total.")
            kind = raw.get("kind") if raw.get("kind") in KINDS else "failed"
            error = TransportError(
                kind,
                str(raw.get("detail") or "")[:120],
                sent=_int(raw.get("sent", sent), "sent"),
                total=_int(raw.get("total", 0), "total"),
                seconds=_int(raw.get("seconds") or 0, "seconds"),
            )
        out.append(DocumentResult(sequence=sequence, ok=entry["ok"], bytes_sent=sent, error=error))
    return out
