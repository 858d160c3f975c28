"""The built-in gateway: screening from branch coverage, numbers from a per-carrier sequence.

A process takes its numbers from the sequence in blocks (:data:`NUMBER_BLOCK` values in
one ``nextval`` statement) and hands them out one by one, so that a single allocation
usually costs no round trip for its number. A block belongs to one process (a forked
child never uses its parent's: the key holds the process id) and one database. The
numbers are unique as before, no longer increasing across processes; what is left in a
block when its process ends is never issued, like the values of a rolled-back draw: gaps
of at most ``NUMBER_BLOCK - 1`` numbers per process and carrier.

Numbers follow each carrier's printed format (prefix + digits). Where a carrier publishes
no check digit, ours is the last digit: the EAN-style mod-10 check over the sequence
digits (weights 3,1,3,1… from the right), so a mistyped digit is caught by
:func:`number_is_valid`.
"""

from __future__ import annotations

import os
import threading
import time

from django.db import connection

from carriers import errors
from carriers.gateways.base import Receiver, ScreenResult
from carriers.models import BranchCoverage, DeliveryAttribute
from shops import regions

#: carrier -> (prefix, digits after the prefix, check digit included)
FORMATS = {
    "ZTO": ("73", 12),
    "YTO": ("YT", 13),
    "YUNDA": ("43", 11),
    "STO": ("77", 11),
    "JT": ("JT", 13),
    "POSTB": ("98", 11),
    "EMS": ("11", 11),
    "SF": ("SF", 13),
    "JD": ("JDVA", 11),
    "FENGWANG": ("FW", 13),
    "DEPPON": ("DPK", 12),
    "ZTOINTL": ("ZTI", 12),
}
VALUE_ADDED = {"insured", "cod", "cold_chain", "fresh", "heavy"}
FAULTS = {
    "rate_limit": errors.GatewayRateLimited,
    "timeout": errors.AllocationTimeout,
    "failure": errors.AllocationFailed,
    "mismatch": errors.BranchCustomerMismatch,
    "monthly_account_invalid": errors.MonthlyAccountInvalid,
    # the carriers' own refusals, word for word (seed 000): screening, SF, Yunda, JD, STO
    "address_unparseable": errors.AddressUnparseable,
    "service_not_opened": errors.ServiceNotOpened,
    "secret_key_missing": errors.SecretKeyMissing,
    "configuration_required": errors.CarrierConfigurationRequired,
    "merchant_code_mismatch": errors.MerchantCodeMismatch,
    "provider_creation_failed": errors.ServiceProviderCreationFailed,
}


def check_digit(digits: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


def number_is_valid(carrier_code: str, waybill_no: str) -> bool:
    prefix, length = FORMATS[carrier_code]
    body = waybill_no[len(prefix) :]
    return (
        waybill_no.startswith(prefix)
        and len(body) == length
        and body.isdigit()
        and check_digit(body[:-1]) == body[-1]
    )


#: branch id -> (loaded at, {region code: (attribute, value-added services)})
_COVERAGE: dict[int, tuple[float, dict]] = {}
COVERAGE_TTL = 30.0  # seconds: a branch's new delivery range applies within half a minute


def coverage(branch_id: int) -> dict[str, tuple[str, bool]]:
    """The branch's delivery range, kept per process for a few seconds (screening runs on
    every allocation; the range changes a few times a year)."""
    now = time.monotonic()
    cached = _COVERAGE.get(branch_id)
    if cached and now - cached[0] < COVERAGE_TTL:
        return cached[1]
    rows = {
        region: (attribute, value_added)
        for region, attribute, value_added in BranchCoverage.objects.filter(
            branch_id=branch_id
        ).values_list("region_code", "attribute", "value_added_services")
    }
    _COVERAGE[branch_id] = (now, rows)
    return rows


def coverage_forget(branch_id: int | None = None) -> None:
    if branch_id is None:
        _COVERAGE.clear()
    else:
        _COVERAGE.pop(branch_id, None)


#: sequence values one process reserves at a time (a draw of this many or more takes its
#: own values directly)
NUMBER_BLOCK = 20
#: (process id, database, sequence) -> values reserved by this process, not yet handed out
_BLOCKS: dict[tuple, list[int]] = {}
_BLOCKS_LOCK = threading.Lock()


def _nextvals(sequence: str, count: int) -> list[int]:
    with connection.cursor() as cur:
        if count == 1:
            cur.execute("SELECT nextval(%s)", [sequence])
        else:
            cur.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [sequence, count])
        return [row[0] for row in cur.fetchall()]


def sequence_values(sequence: str, count: int) -> list[int]:
    """``count`` unused values of ``sequence``: from this process's block, refilled with one
    statement when it runs short; a large draw takes its own values directly."""
    if count >= NUMBER_BLOCK:
        return _nextvals(sequence, count)
    pid, db = os.getpid(), connection.settings_dict
    key = (pid, db["HOST"], db["PORT"], db["NAME"], sequence)
    with _BLOCKS_LOCK:
        block = _BLOCKS.get(key)
        if block is None:
            for stale in [k for k in _BLOCKS if k[0] != pid]:  # a parent's, before a fork
                del _BLOCKS[stale]
            block = _BLOCKS[key] = []
        if len(block) < count:
            block.extend(_nextvals(sequence, NUMBER_BLOCK))
        taken = block[:count]
        del block[:count]
    return taken


def blocks_forget() -> None:
    """Drop this process's reserved values (tests that recreate the sequences)."""
    with _BLOCKS_LOCK:
        _BLOCKS.clear()


def _fault(subscription) -> None:
    fault = subscription.branch.fault
    if fault:
        raise FAULTS[fault]()


class BuiltinGateway:
    def screen(
        self, *, subscription, receiver: Receiver, services: list[str] | None = None
    ) -> ScreenResult:
        _fault(subscription)
        services = list(services or ["standard"])
        province, city, district = regions.resolve(
            receiver.province, receiver.city, receiver.district
        )
        if (
            province is None
            or city is None
            or (receiver.detail is not None and len(receiver.detail.strip()) < 2)
            or (receiver.district and district is None)
        ):
            raise errors.AddressUnparseable()
        codes = regions.lineage(district or city) + ["000000"]
        rows = coverage(subscription.branch_id)
        match = next((rows[c] for c in codes if c in rows), None)
        if match is None:
            raise errors.ScreenNoAttribute()
        attribute, value_added = match
        if attribute == DeliveryAttribute.NONE:
            raise errors.OutOfRange()
        if attribute == DeliveryAttribute.PARTIAL:
            raise errors.ScreenPartialDelivery()
        if attribute == DeliveryAttribute.NOT_FULL:
            raise errors.ScreenNotFullTerritory()
        wanted = set(services) - {"standard"}
        if wanted & VALUE_ADDED and not value_added:
            raise errors.ServiceOutOfRange()
        opened = set(subscription.services or []) | {"standard"}
        if wanted - opened:
            raise errors.ServiceNotOpened(detail={"services": sorted(wanted - opened)})
        place = district or city
        city_short = city.name.removesuffix("市")
        return ScreenResult(
            sort_code=f"{province.code[:2]}{city.code[2:4]}-{place.code[-2:]}-"
            f"{int(place.code) % 97:02d}",
            package_center_code=f"{province.code[:2]}0",
            package_center_name=f"{province.name.removesuffix('省').removesuffix('市')}转运中心",
            short_address_code=f"{city.code[:4]}{place.code[-2:]}",
            short_address_name=f"{city_short} {place.name}" if district else city_short,
            region_code=place.code,
            services=services,
        )

    def issue_numbers(self, *, subscription, count: int = 1) -> list[str]:
        _fault(subscription)
        code = subscription.carrier.code
        prefix, length = FORMATS[code]
        numbers = []
        for value in sequence_values(f"waybill_seq_{code.lower()}", count):
            body = f"{value:0{length - 1}d}"
            numbers.append(f"{prefix}{body}{check_digit(body)}")
        return numbers

    def cancel(self, *, subscription, waybill_no: str) -> None:
        _fault(subscription)
