"""What a page calls each field an error names: ``receiver.phone`` is 收件人手机 on a page.

An error's ``detail`` keys fields the way the API does (``receiver.phone``,
``items[1].quantity``, ``agree``): the API keeps them, a person reads the field's label.
Each app registers the labels of the fields its services check
(``register_field_labels`` in its ``AppConfig.ready()``); :func:`field_problems` turns a
detail object into ``(label, problems)`` pairs for the page, leaving out what is not a
field's problem (``detail.permission``, ``detail.status``, counts and limits: the message
already says them in words).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.utils.translation import gettext

from waybill_console.registry import register_once

log = logging.getLogger(__name__)

_labels: dict[str, Any] = {}

_INDEXED = re.compile(r"^(?P<name>[A-Za-z_]+)\[(?P<n>\d+)\]$")


def register_field_labels(labels: dict[str, Any]) -> None:
    """``{"receiver.phone": _("Receiver phone"), …}``: a field key (dotted for a nested
    field, as the API names it) and its lazy label. A key registered twice must carry the
    same label (one field, one name)."""
    for key, label in labels.items():
        register_once(_labels, key, label, what="field label")


def field_label(key: str) -> str | None:
    """The label of a field key, or None when no app named it. ``items[1].quantity`` reads
    as the quantity of item 2; a dotted key without its own label reads by its last part."""
    if key in _labels:
        return str(_labels[key])
    parts = key.split(".")
    if len(parts) > 1:
        rest = field_label(".".join(parts[1:]))
        head = _INDEXED.match(parts[0])
        if rest and head and head["name"] in _labels:
            return gettext("%(parent)s %(n)s: %(field)s") % {
                "parent": _labels[head["name"]],
                "n": int(head["n"]) + 1,
                "field": rest,
            }
        if rest and parts[0] in _labels:
            return gettext("%(parent)s · %(field)s") % {"parent": _labels[parts[0]], "field": rest}
        return rest
    head = _INDEXED.match(key)
    if head and head["name"] in _labels:
        return gettext("%(parent)s %(n)s") % {
            "parent": _labels[head["name"]],
            "n": int(head["n"]) + 1,
        }
    return None


def _flatten(value: Any, key: str, out: list[tuple[str, list[str]]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(v, f"{key}.{k}" if key else str(k), out)
    elif isinstance(value, list | tuple):
        if value and all(isinstance(v, dict) for v in value):
            for i, v in enumerate(value):
                _flatten(v, f"{key}[{i}]", out)
        elif value and all(isinstance(v, str) for v in value):
            out.append((key, [str(v) for v in value]))


def field_problems(detail: Any) -> list[tuple[str, list[str]]]:
    """``(label, problems)`` for each field problem in an error's ``detail``: the lists of
    messages a validation names by field (nested objects and item lists followed).
    Scalars (what the refusal was about, ``detail.permission``, ``detail.limit`` …) are
    the API's, not the page's. A field no app labelled shows its problems with no label
    (never the key) and is logged, so that it gets one."""
    if not isinstance(detail, dict) or "lines" in detail:
        return []
    found: list[tuple[str, list[str]]] = []
    _flatten(detail, "", found)
    out = []
    for key, problems in found:
        label = field_label(key)
        if label is None and key not in ("non_field_errors", "body"):
            log.warning("no label for field %r: register it with register_field_labels", key)
        out.append((label or "", problems))
    return out


def error_text(err) -> str:
    """An error as one line of a page message: its message, then each field it refuses by
    its label (``部分字段不正确。电话：不是有效的手机号。``); never a key or a code."""
    from django.utils.translation import pgettext

    sep = pgettext("label separator", ": ")
    parts = [err.render_message()]
    for label, problems in field_problems(err.detail):
        parts.append(f"{label}{sep}{' '.join(problems)}" if label else " ".join(problems))
    return " ".join(parts)
