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

import json
import os
import threading
import time

from django.db import connection

from carriers import errors
from carriers.gateways.base import Issued, IssueRequest, Receiver, ScreenResult
from carriers.models import BranchCoverage, DeliveryAttribute
from shops import regions
from waybill_console import rawsql

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


#: faults of the issue call itself (after screening passed): the outcome is unknown to the
#: caller. ``lost_answer``: the sandbox issued and recorded the number, then the answer
#: timed out; ``unsent_timeout``: it timed out before the sandbox recorded anything;
#: ``issue_refused``: a definite refusal (ALLOCATION_FAILED) after screening passed.
ISSUE_FAULTS = frozenset({"lost_answer", "unsent_timeout", "issue_refused"})

#: a test may make a worker process die right after the sandbox issued a number (before the
#: engine commits it): the environment variable names a marker file; the first issue in a
#: process that sees no marker creates it and exits at once, like a crash
CRASH_AFTER_ISSUE_ENV = "WBC_SANDBOX_CRASH_AFTER_ISSUE"


def _json(value):
    """A jsonb column as the driver hands it (Django leaves it as text)."""
    return json.loads(value) if isinstance(value, str) else value


def _fault(subscription) -> None:
    fault = subscription.branch.fault
    if fault and fault not in ISSUE_FAULTS:
        raise FAULTS[fault]()


def _crash_if_asked() -> None:
    marker = os.environ.get(CRASH_AFTER_ISSUE_ENV)
    if not marker:
        return
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.close(fd)
    os._exit(70)


_RECORD_SQL = """
INSERT INTO carriers_sandboxshipment (carrier_code, carrier_order_id, numbers, cancelled,
                                      created_at)
SELECT %s, v.id, v.numbers::jsonb, '[]'::jsonb, now()
  FROM unnest(%s::text[], %s::text[]) AS v(id, numbers)
ON CONFLICT (carrier_code, carrier_order_id) DO NOTHING
RETURNING carrier_order_id
"""


class BuiltinGateway:
    #: the sandbox cancels the number named, not its siblings (see ``cancel``)
    #: the subscription's account fields this gateway orders numbers on
    account_fields = frozenset()  # what the carrier catalog asks, no more
    cancels_whole_order = False

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

    def numbers(self, *, carrier_code: str, count: int) -> list[str]:
        prefix, length = FORMATS[carrier_code]
        numbers = []
        for value in sequence_values(f"waybill_seq_{carrier_code.lower()}", count):
            body = f"{value:0{length - 1}d}"
            numbers.append(f"{prefix}{body}{check_digit(body)}")
        return numbers

    def issue(self, request: IssueRequest) -> Issued:
        [answer] = self.issue_many([request])
        if isinstance(answer, Exception):
            raise answer
        return answer

    def issue_many(self, requests: list[IssueRequest]) -> list[Issued | Exception]:
        """Numbers for each order package, recorded under its carrier-side order id in one
        statement; an id already recorded answers with its first numbers (a replay)."""
        if not requests:
            return []
        sub = requests[0].subscription
        fault = sub.branch.fault
        if fault == "unsent_timeout":
            return [errors.AllocationTimeout() for _ in requests]
        if fault == "issue_refused":
            return [errors.AllocationFailed() for _ in requests]
        if fault and fault not in ISSUE_FAULTS:
            return [FAULTS[fault]() for _ in requests]
        code = sub.carrier.code
        fresh = iter(self.numbers(carrier_code=code, count=sum(r.package_count for r in requests)))
        proposed = {
            r.carrier_order_id: [next(fresh) for _ in range(r.package_count)] for r in requests
        }
        with connection.cursor() as cur:
            rawsql.execute_prepared(
                cur,
                "wbc_sandbox_record",
                _RECORD_SQL,
                [code, list(proposed), [json.dumps(n) for n in proposed.values()]],
            )
            recorded = {row[0] for row in cur.fetchall()}
            replayed = [i for i in proposed if i not in recorded]
            if replayed:  # asked before: the first answer stands (these fresh ones are unused)
                cur.execute(
                    "SELECT carrier_order_id, numbers FROM carriers_sandboxshipment "
                    "WHERE carrier_code = %s AND carrier_order_id = ANY(%s)",
                    [code, replayed],
                )
                for carrier_order_id, numbers in cur.fetchall():
                    proposed[carrier_order_id] = _json(numbers)
        _crash_if_asked()
        if fault == "lost_answer":
            return [errors.AllocationTimeout() for _ in requests]
        return [Issued(r.carrier_order_id, proposed[r.carrier_order_id]) for r in requests]

    def issue_local(self, requests: list[IssueRequest]) -> list[Issued] | None:
        """The sandbox issues without a network call: the numbers for each package, which
        the engine commits in the same round trip and transaction as the quota it draws
        for them (so nothing is recorded: a package drawn this way is never asked about
        again). None while a fault is switched on for the branch (or a crash is asked
        for): the sandbox then answers as a remote carrier would, through
        :meth:`issue_many`, and records what it issued."""
        sub = requests[0].subscription
        if sub.branch.fault or os.environ.get(CRASH_AFTER_ISSUE_ENV):
            return None
        fresh = iter(
            self.numbers(
                carrier_code=sub.carrier.code, count=sum(r.package_count for r in requests)
            )
        )
        return [
            Issued(r.carrier_order_id, [next(fresh) for _ in range(r.package_count)])
            for r in requests
        ]

    def query(self, *, subscription, carrier_order_id: str) -> Issued | None:
        with connection.cursor() as cur:
            cur.execute(
                "SELECT numbers, cancelled FROM carriers_sandboxshipment "
                "WHERE carrier_code = %s AND carrier_order_id = %s",
                [subscription.carrier.code, carrier_order_id],
            )
            row = cur.fetchone()
        if row is None or _json(row[1]):
            return None
        return Issued(carrier_order_id, _json(row[0]))

    def cancel(self, *, subscription, waybill_no: str, carrier_order_id: str = "") -> None:
        _fault(subscription)
        if carrier_order_id:
            with connection.cursor() as cur:
                cur.execute(
                    "UPDATE carriers_sandboxshipment SET cancelled = cancelled || %s::jsonb "
                    "WHERE carrier_code = %s AND carrier_order_id = %s",
                    [json.dumps([waybill_no]), subscription.carrier.code, carrier_order_id],
                )
