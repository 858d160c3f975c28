"""JSON from outside (API bodies, the designer's form field and preview query): one
reader, :func:`loads`, refusing what Python would choke on later.

- **Nesting.** ``[[[[…]]]]`` 1,000 deep parses, then every recursive step after it
  (serializers, the error object, the idempotency fingerprint) raises ``RecursionError``;
  100,000 deep fails in the parser itself. No request of ours nests more than a few
  levels: anything deeper than :data:`MAX_DEPTH` is refused, naming the body (or field).
- **Constants.** ``NaN``, ``Infinity`` and ``-Infinity`` are not JSON (Python accepts
  them by default).
- **Lone surrogates.** ``"\\ud800"`` is valid JSON but no UTF-8 text: PostgreSQL (and
  every encoder after the parser) refuses it. A NUL (``\\u0000``) in an API body is
  refused before the parser runs (:class:`waybill_console.middleware.NulCharacterMiddleware`).
"""

from __future__ import annotations

import codecs
import json
import re
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 64
_OPENERS = ("[", "{")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")

TOO_DEEP = _("Lists and objects nested more than %(n)s levels deep.")
SURROGATE = _("Text may not contain unpaired surrogate characters.")


class JsonRefused(ValueError):
    """Well-formed JSON that nothing after the reader may receive; ``str()`` is the
    translated reason."""


class BodyRefused(ParseError):
    """An API body refused by :func:`loads`; the DRF exception handler names the body
    (``detail.body``) with this message."""


def _strict_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def too_deep(data, limit: int = MAX_DEPTH) -> bool:
    """Whether ``data`` nests lists and objects more than ``limit`` levels (iteratively:
    the check itself never recurses)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def has_lone_surrogate(data) -> bool:
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def loads(text: str) -> Any:
    """``json.loads`` for input from outside: ``ValueError`` if malformed (``NaN`` and
    ``Infinity`` included), :class:`JsonRefused` if nested deeper than :data:`MAX_DEPTH`
    or carrying an unpaired surrogate."""
    try:
        data = json.loads(text, parse_constant=_strict_constant)
    except RecursionError:
        raise JsonRefused(str(TOO_DEEP % {"n": MAX_DEPTH})) from None
    if sum(text.count(c) for c in _OPENERS) > MAX_DEPTH and too_deep(data):
        raise JsonRefused(str(TOO_DEEP % {"n": MAX_DEPTH}))
    if _SURROGATE_ESCAPE.search(text) and has_lone_surrogate(data):
        raise JsonRefused(str(SURROGATE))
    return data


class JSONParser(parsers.JSONParser):
    """DRF's, reading through :func:`loads`."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return loads(codecs.decode(stream.read(), encoding))
        except JsonRefused as refused:
            raise BodyRefused(str(refused)) from None
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError too
            raise ParseError(f"JSON parse error - {exc}") from None
