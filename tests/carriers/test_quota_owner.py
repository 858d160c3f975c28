"""One owner of the quota: only ``carriers/quota/`` writes a subscription's quota counters,
the branch accounts (the cancel cap), the reservations and the ledger.

Every product module is parsed; a write to those tables anywhere else fails the test:
SQL text that updates or inserts into them, or the ORM's ``update``/``create``/
``bulk_create``/``save`` on their models, or a keyword that sets a quota counter.
Migrations (the schema's history) are excepted."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
#: every module of the project's own apps, as installed (events and any later app included)
PRODUCT = tuple(
    app for app in settings.INSTALLED_APPS if "." not in app and (ROOT / app / "apps.py").exists()
)
OWNER = ROOT / "carriers" / "quota"
TABLES = (
    "carriers_ledgerentry",
    "carriers_branchaccount",
    "carriers_reservation",
)
SQL_WRITE = re.compile(
    r"\b(?:UPDATE|INSERT\s+INTO|DELETE\s+FROM)\s+("
    + "|".join(TABLES)
    + r"|carriers_subscription)\b",
    re.IGNORECASE,
)
MODELS = {"LedgerEntry", "BranchAccount", "Reservation"}
COUNTERS = {
    "balance",
    "allocated_total",
    "cancelled_total",
    "recycled_total",
    "printed_total",
    "cancel_basis",
}
WRITES = {"update", "create", "bulk_create", "get_or_create", "update_or_create", "delete"}


def _product_files():
    for app in PRODUCT:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts or OWNER in path.parents:
                continue
            yield path


def _chain_names(node) -> set[str]:
    names = set()
    while isinstance(node, (ast.Call, ast.Attribute)):
        if isinstance(node, ast.Call):
            node = node.func
        else:
            names.add(node.attr)
            node = node.value
    if isinstance(node, ast.Name):
        names.add(node.id)
    return names


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = SQL_WRITE.search(node.value)
            if match:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} SQL writes {match.group(1)}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr not in WRITES:
                continue
            chain = _chain_names(node.func.value)
            if chain & MODELS:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} ORM writes {chain & MODELS}")
            if "Subscription" in chain:
                keys = {k.arg for k in node.keywords if k.arg}
                if keys & COUNTERS:
                    found.append(
                        f"{path.relative_to(ROOT)}:{node.lineno} sets quota counters "
                        f"{sorted(keys & COUNTERS)}"
                    )
    return found


def test_only_the_quota_package_writes_the_quota_tables():
    assert {"waybill_console", "shops", "carriers", "waybills", "events"} <= set(PRODUCT)
    offences = [o for path in _product_files() for o in _offences(path)]
    assert offences == []


def test_the_scan_catches_each_kind_of_write(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        'SQL = "UPDATE carriers_subscription SET balance = balance - 1"\n'
        'SQL2 = "insert into carriers_ledgerentry (a) values (1)"\n'
        "LedgerEntry.objects.create(kind='x')\n"
        "Subscription.objects.filter(pk=1).update(balance=F('balance') + 1)\n"
        "Reservation.objects.filter(pk=1).update(state='released')\n"
        "Subscription.objects.filter(pk=1).update(status='active')\n"  # not a counter
    )
    rel = sample.relative_to(tmp_path)
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        found = _offences(sample)
    finally:
        ROOT = saved
    assert len(found) == 5, found
    assert all(str(rel) in f for f in found)
