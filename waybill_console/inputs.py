"""Odd values from outside, refused where they are parsed: one rule for each kind.

Every door (API serializers, pages, imports) and every service that parses a number or a
date itself goes through these, so that a value no rule below it was written for never
reaches a comparison, a ``quantize``, date arithmetic or PostgreSQL:

- **Numbers.** ``"NaN"``, ``"sNaN"``, ``"Infinity"`` and ``"1e999999"`` are valid to
  ``Decimal`` and ``float``, but a ``NaN`` raises on ``<`` (``InvalidOperation``), passes
  every ``float`` range check (all comparisons are false) and reaches the database, and an
  infinity or a huge exponent breaks ``quantize`` and the ``numeric`` columns.
- **Dates.** ``9999-12-31`` plus a day, or ``0001-01-01`` in Asia/Shanghai converted to
  UTC, is an ``OverflowError``: a day outside :data:`EARLIEST_DAY` … :data:`LATEST_DAY`
  (far wider than any order, waybill or statement) is refused, naming the parameter.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from math import isfinite

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2099, 12, 31)
#: the largest amount a money column holds (``max_digits=12, decimal_places=2``)
MONEY_MAX = Decimal("9999999999.99")
#: a number with more digits than this (``"1" * 5000``) is no quantity, price or size
MAX_NUMBER_LENGTH = 64

DAY_MESSAGE = _("A date from %(first)s to %(last)s, like 2026-11-23.")
MOMENT_MESSAGE = _("A time from %(first)s to %(last)s, like 2026-11-23 10:30:00.")


def day_message() -> str:
    return str(DAY_MESSAGE % {"first": EARLIEST_DAY.isoformat(), "last": LATEST_DAY.isoformat()})


def moment_message() -> str:
    return str(MOMENT_MESSAGE % {"first": EARLIEST_DAY.isoformat(), "last": LATEST_DAY.isoformat()})


def finite_decimal(value) -> Decimal:
    """``value`` (a string, int or Decimal) as a finite Decimal; ``ValueError`` for NaN,
    sNaN, ±Infinity, a float, a bool, an empty or over-long string, or an exponent beyond
    any amount (``1e999999``)."""
    if isinstance(value, bool | float):
        if isinstance(value, float) and isfinite(value):
            value = repr(value)
        else:
            raise ValueError("not a number")
    text = str(value).strip()
    if not text or len(text) > MAX_NUMBER_LENGTH:
        raise ValueError("not a number")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not number.is_finite() or abs(number.adjusted()) > MAX_NUMBER_LENGTH:
        raise ValueError("not a finite number")
    return number


def finite_float(value) -> float:
    """``value`` as a finite float; ``ValueError`` for NaN, ±Infinity (``"1e999999"``), a
    bool or an over-long string."""
    if isinstance(value, bool):
        raise ValueError("not a number")
    if isinstance(value, str) and len(value.strip()) > MAX_NUMBER_LENGTH:
        raise ValueError("not a number")
    try:
        number = float(value)
    except (TypeError, OverflowError):
        raise ValueError("not a number") from None
    if not isfinite(number):
        raise ValueError("not a finite number")
    return number


def day_in_range(day: date) -> bool:
    return EARLIEST_DAY <= day <= LATEST_DAY


def moment_in_range(moment: datetime) -> bool:
    return EARLIEST_DAY <= moment.date() <= LATEST_DAY


def parse_day(value) -> date:
    """``YYYY-MM-DD`` (a ``date`` passes through) within the supported days; ``ValueError``
    for anything else (malformed, ``2026-02-30``, year 10000, ``0001-01-01``)."""
    if isinstance(value, datetime):
        raise ValueError("a time, not a day")
    if isinstance(value, date):
        day = value
    else:
        text = str(value or "").strip()
        if len(text) != 10:
            raise ValueError("not YYYY-MM-DD")
        day = date.fromisoformat(text)
    if not day_in_range(day):
        raise ValueError("outside the supported days")
    return day


class DateField(serializers.DateField):
    """DRF's, limited to the supported days."""

    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        if not day_in_range(day):
            raise serializers.ValidationError(day_message())
        return day


class DateTimeField(serializers.DateTimeField):
    """DRF's, limited to the supported days (DRF's own time-zone check of ``0001-01-01``
    in a positive offset, or ``9999-12-31`` in a negative one, raises ``OverflowError``)."""

    def to_internal_value(self, value):
        try:
            moment = super().to_internal_value(value)
        except OverflowError:
            raise serializers.ValidationError(moment_message()) from None
        if not moment_in_range(moment):
            raise serializers.ValidationError(moment_message())
        return moment

    def enforce_timezone(self, value):
        if not moment_in_range(value):
            raise serializers.ValidationError(moment_message())
        return super().enforce_timezone(value)
