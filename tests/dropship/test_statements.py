"""Settlement prices (kept by the factory per merchant and SKU) and statements: every order
returned in the range with its amount, missing prices flagged, the factory's copy masked;
at most 3 per pair a day, at least 10 minutes apart (also under concurrency); the file
built by a real Celery worker."""

from __future__ import annotations

import csv
import io
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone
from openpyxl import load_workbook

from dropship.models import SettlementPrice, Statement
from dropship.services import factory as fs
from dropship.services import identity
from dropship.services import statements as st
from shops.models import Shop
from tests.conftest import main_actor
from tests.dropship.conftest import (
    FACTORY_NO,
    MERCHANT_NO,
    SECRETS,
    allocated,
    bind,
    make_factory,
    make_merchant,
)
from tests.waybills.conftest import open_service
from tests.waybills.parallel import run_in_processes
from waybill_console.celery import app
from waybill_console.errors import AppError
from waybill_console.exports import MONEY_FORMAT, excel_text_value
from waybill_console.jobs import job_run
from waybill_console.models import Job

pytestmark = pytest.mark.django_db

TZ = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int = 9, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=TZ)


def set_prices(factory, *rows) -> list[SettlementPrice]:
    return st.prices_set(actor=main_actor(factory), prices=list(rows))


def start(shop, counterpart: str, now: datetime, **kw) -> Statement:
    return st.statement_start(
        actor=main_actor(shop),
        counterpart=counterpart,
        date_from=kw.pop("date_from", "2026-03-01"),
        date_to=kw.pop("date_to", "2026-03-31"),
        now=now,
        **kw,
    )


def returned_at(merchant, factory, sub, when: datetime):
    fo = allocated(merchant, factory)
    fs.factory_order_draw(actor=main_actor(factory), factory_order_id=fo.pk, subscription=sub.pk)
    return fs.factory_order_return(actor=main_actor(factory), factory_order_id=fo.pk, now=when)


def prices() -> dict:
    return {
        (p.merchant.shop_no, p.sku): (p.price, p.product_name)
        for p in SettlementPrice.objects.select_related("merchant")
    }


# --- prices ---------------------------------------------------------------------------------


def test_the_factory_sets_changes_and_removes_prices(merchant, factory, binding):
    saved = set_prices(
        factory, {"merchant": MERCHANT_NO, "sku": "CUP-1", "price": "12.5", "product_name": "杯"}
    )
    assert [(p.sku, p.price) for p in saved] == [("CUP-1", Decimal("12.50"))]

    set_prices(
        factory,
        {"merchant": MERCHANT_NO, "sku": "CUP-1", "price": 13},
        {"merchant": MERCHANT_NO, "sku": "LID-2", "price": "0"},
    )
    assert prices() == {
        (MERCHANT_NO, "CUP-1"): (Decimal("13.00"), "杯"),  # the name is kept when not given
        (MERCHANT_NO, "LID-2"): (Decimal("0.00"), ""),
    }

    set_prices(factory, {"merchant": MERCHANT_NO, "sku": "LID-2", "price": None})
    assert list(prices()) == [(MERCHANT_NO, "CUP-1")]


def test_bad_prices_are_named_and_none_is_saved(merchant, factory, binding):
    set_prices(factory, {"merchant": MERCHANT_NO, "sku": "CUP-1", "price": "10"})

    with pytest.raises(AppError) as err:
        set_prices(
            factory,
            {"merchant": MERCHANT_NO, "sku": "CUP-1", "price": "11"},  # good, but not saved
            {"merchant": "999999", "sku": "X", "price": "1"},
            {"merchant": MERCHANT_NO, "sku": "", "price": "-1"},
            {"merchant": MERCHANT_NO, "sku": "S" * 65, "price": "abc"},
            "not an object",
        )

    assert err.value.code == "VALIDATION_ERROR"
    assert set(err.value.detail) == {
        "prices[1].merchant",
        "prices[2].sku",
        "prices[2].price",
        "prices[3].sku",
        "prices[3].price",
        "prices[4]",
    }
    assert prices() == {(MERCHANT_NO, "CUP-1"): (Decimal("10.00"), "")}


def test_prices_only_for_merchants_that_were_bound(merchant, factory):
    identity.binding_request(actor=main_actor(merchant), factory_shop_no=FACTORY_NO)  # pending
    with pytest.raises(AppError) as err:
        set_prices(factory, {"merchant": MERCHANT_NO, "sku": "CUP-1", "price": "1"})
    assert err.value.code == "VALIDATION_ERROR" and "prices[0].merchant" in err.value.detail
    assert not SettlementPrice.objects.exists()


def test_a_merchant_does_not_set_prices(merchant, factory, binding):
    with pytest.raises(AppError) as err:
        st.prices_set(
            actor=main_actor(merchant),
            prices=[{"merchant": MERCHANT_NO, "sku": "CUP-1", "price": "1"}],
        )
    assert err.value.code == "PERMISSION_DENIED"
    assert not SettlementPrice.objects.exists()


def test_the_price_sheet_lists_missing_prices_first(merchant, factory, binding):
    allocated(merchant, factory)
    set_prices(factory, {"merchant": MERCHANT_NO, "sku": "CUP-1", "price": "12.50"})

    sheet = st.price_sheet(actor=main_actor(factory))

    assert [(r["sku"], r["price"], r["merchant"]) for r in sheet] == [
        ("LID-2", None, "11**01"),
        ("CUP-1", Decimal("12.50"), "11**01"),
    ]


# --- statement contents ---------------------------------------------------------------------


@pytest.fixture
def month(merchant, factory, binding, factory_sub):
    """Orders returned around March 2026: two inside (its first and last minute), two just
    outside, one not returned; CUP-1 priced at 12.50, LID-2 without a price."""
    set_prices(factory, {"merchant": MERCHANT_NO, "sku": "CUP-1", "price": "12.50"})
    inside = [
        returned_at(merchant, factory, factory_sub, at(1, 0, 0)),
        returned_at(merchant, factory, factory_sub, datetime(2026, 3, 31, 23, 59, 59, tzinfo=TZ)),
    ]
    outside = [
        returned_at(merchant, factory, factory_sub, datetime(2026, 2, 28, 23, 59, 59, tzinfo=TZ)),
        returned_at(merchant, factory, factory_sub, datetime(2026, 4, 1, 0, 0, tzinfo=TZ)),
        allocated(merchant, factory),
    ]
    return inside, outside


def test_statement_rows_list_each_returned_item_with_amount_and_missing_prices(
    merchant, factory, month
):
    inside, outside = month
    statement = start(merchant, FACTORY_NO, at(10))

    rows = list(st.statement_rows(statement, side="merchant"))

    assert [r[0][2] for r in rows] == [fo.order.order_no for fo in inside for _ in range(2)]
    first_cup, first_lid = rows[0], rows[1]
    assert first_cup[0][0] == "星河代发 (110101)"
    assert first_cup[0][3] == "2026-03-01 00:00:00"
    assert first_cup[0][5] == inside[0].tracking_no
    assert first_cup[0][6:] == [
        "CUP-1", "保温杯", "500ml 白色", 2, Decimal("12.50"), Decimal("25.00"), ""
    ]  # fmt: skip
    assert first_cup[1] == Decimal("25.00")
    assert first_lid[0][6:] == ["LID-2", "杯盖", "白色", 1, "", "", "缺少结算价"]
    assert first_lid[1] is None
    for fo in outside[:2]:
        assert fo.tracking_no not in {r[0][5] for r in rows}


def test_the_factorys_copy_masks_the_merchant_and_order_numbers(merchant, factory, month):
    inside, _outside = month
    statement = start(factory, MERCHANT_NO, at(10))

    rows = [r for r, _amount in st.statement_rows(statement, side="factory")]

    text = repr(rows)
    for secret in (*SECRETS, MERCHANT_NO, *(fo.order.order_no for fo in inside)):
        assert secret not in text
    assert rows[0][0] == "星河代发 (11**01)"
    assert "*" in rows[0][2] and rows[0][2][:4] == inside[0].order.order_no[:4]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_statement_file_has_the_rows_and_a_total(
    merchant, factory, month, fmt, tmp_path, settings
):
    settings.MEDIA_ROOT = str(tmp_path)
    statement = start(merchant, FACTORY_NO, at(10), file_format=fmt)

    assert job_run(job_id=statement.job_id) == "succeeded"

    job = Job.objects.get(pk=statement.job_id)
    assert job.result == {
        "rows": 4,
        "missing_prices": 2,
        "total": "50.00",
        "file_name": job.file_name,
    }
    rows = read_file(job)
    assert rows[0][:3] == ["商家", "厂家", "订单号"] or len(rows[0]) == 13
    assert len(rows) == 6  # header, 4 items, total
    assert rows[-1][0] == "合计" and rows[-1][11] == "50.00" and rows[-1][12] == "缺少结算价 2 项"
    assert [r[12] for r in rows[1:5]] == ["", "缺少结算价", "", "缺少结算价"]


def read_file(job: Job) -> list[list[str]]:
    """The cells as Excel shows them: CSV's ="…" digits as the digits, XLSX amounts (numeric
    cells in the 0.00 format) with two decimals."""
    with open(job.file_path, "rb") as fh:
        raw = fh.read()
    if job.file_name.endswith(".csv"):
        rows = csv.reader(io.StringIO(raw.decode("utf-8-sig")))
        return [[excel_text_value(c) for c in r] for r in rows]
    sheet = load_workbook(io.BytesIO(raw), read_only=True).worksheets[0]
    return [
        [
            "" if c.value is None
            else f"{c.value:.2f}" if c.number_format == MONEY_FORMAT
            else str(c.value)
            for c in r
        ]
        for r in sheet.iter_rows()
    ]  # fmt: skip


# --- asking for statements ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "fields"),
    [
        ({"date_from": "2026-3-1"}, {"date_from"}),
        ({"date_from": "2026-03-10", "date_to": "2026-03-01"}, {"date_to"}),
        ({"date_from": "2026-01-01", "date_to": "2026-04-30"}, {"date_to"}),
        ({"file_format": "pdf"}, {"format"}),
        ({"counterpart": "999999"}, {"factory"}),
    ],
)
def test_bad_statement_requests_name_the_field(merchant, factory, binding, kw, fields):
    counterpart = kw.pop("counterpart", FACTORY_NO)
    with pytest.raises(AppError) as err:
        start(merchant, counterpart, at(10), **kw)
    assert err.value.code == "VALIDATION_ERROR" and set(err.value.detail) == fields
    assert not Statement.objects.exists() and not Job.objects.exists()


def test_a_statement_needs_a_pair_that_was_bound(merchant, factory):
    other = make_factory("210102", username="f2")
    identity.binding_request(actor=main_actor(merchant), factory_shop_no=other.shop_no)
    for counterpart in (FACTORY_NO, other.shop_no):  # never asked / only pending
        with pytest.raises(AppError) as err:
            start(merchant, counterpart, at(10))
        assert err.value.code == "BINDING_NOT_ACTIVE"
    assert not Statement.objects.exists()


def test_an_unbound_pair_still_gets_statements_for_past_work(merchant, factory, binding):
    identity.binding_unbind(actor=main_actor(merchant), binding_id=binding.pk)
    statement = start(merchant, FACTORY_NO, at(10))
    assert (statement.merchant_id, statement.factory_id, statement.requested_by_id) == (
        merchant.pk,
        factory.pk,
        merchant.pk,
    )


def limit(shop, counterpart: str, now: datetime) -> AppError:
    before = Statement.objects.count(), Job.objects.count()
    with pytest.raises(AppError) as err:
        start(shop, counterpart, now)
    assert err.value.code == "STATEMENT_LIMIT" and err.value.status == 429
    assert (Statement.objects.count(), Job.objects.count()) == before  # nothing half-written
    return err.value


def test_statements_are_at_least_ten_minutes_apart(merchant, factory, binding):
    start(merchant, FACTORY_NO, at(10, 9, 0))

    err = limit(merchant, FACTORY_NO, at(10, 9, 9))
    assert err.detail["today"] == 1
    assert datetime.fromisoformat(err.detail["retry_after"]) == at(10, 9, 10)
    # the factory's side counts for the same pair
    limit(factory, MERCHANT_NO, at(10, 9, 5))

    assert start(factory, MERCHANT_NO, at(10, 9, 10)).requested_by_id == factory.pk


def test_at_most_three_statements_a_day(merchant, factory, binding):
    for minute in (0, 10, 20):
        start(merchant, FACTORY_NO, at(10, 9, minute))

    err = limit(merchant, FACTORY_NO, at(10, 18, 0))
    assert err.detail["today"] == 3
    assert datetime.fromisoformat(err.detail["retry_after"]) == at(11, 0, 0)
    limit(factory, MERCHANT_NO, at(10, 23, 59))

    assert start(merchant, FACTORY_NO, at(11, 0, 0)).created_at == at(11, 0, 0)


def test_ten_minutes_apart_also_across_midnight(merchant, factory, binding):
    start(merchant, FACTORY_NO, at(10, 23, 55))
    limit(merchant, FACTORY_NO, at(11, 0, 1))
    assert start(merchant, FACTORY_NO, at(11, 0, 5)).created_at == at(11, 0, 5)


def test_the_limit_is_per_merchant_and_factory(merchant, factory, binding):
    other = make_factory("210102", username="f2")
    bind(merchant, other)
    start(merchant, FACTORY_NO, at(10, 9, 0))
    assert start(merchant, other.shop_no, at(10, 9, 1)).factory_id == other.pk


# --- concurrency: two requests at once cannot pass the limit --------------------------------


def _request(shop_id: int, counterpart: str, iso: str) -> str:
    shop = Shop.objects.get(pk=shop_id)
    try:
        start(shop, counterpart, datetime.fromisoformat(iso))
        return "ok"
    except AppError as err:
        return err.code


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(180)
def test_concurrent_requests_at_the_same_moment_make_one_statement():
    merchant, factory = make_merchant(), make_factory()
    bind(merchant, factory)
    for day in (10, 11, 12):
        now = at(day).isoformat()
        outcomes = run_in_processes(
            _request,
            [(merchant.pk, FACTORY_NO, now), (factory.pk, MERCHANT_NO, now)] * 3,
        )
        assert sorted(outcomes) == ["STATEMENT_LIMIT"] * 5 + ["ok"], outcomes
    assert Statement.objects.count() == 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(180)
def test_concurrent_requests_cannot_pass_three_a_day():
    merchant, factory = make_merchant(), make_factory()
    bind(merchant, factory)
    start(merchant, FACTORY_NO, at(10, 8, 0))
    start(merchant, FACTORY_NO, at(10, 8, 20))
    # four requests, each far enough from the others: only the day's cap can refuse them
    moments = [at(10, 9 + i, 0).isoformat() for i in range(4)]
    outcomes = run_in_processes(
        _request,
        [
            (merchant.pk if i % 2 else factory.pk, MERCHANT_NO if not i % 2 else FACTORY_NO, m)
            for i, m in enumerate(moments)
        ],  # fmt: skip
    )
    assert sorted(outcomes) == ["STATEMENT_LIMIT"] * 3 + ["ok"], outcomes
    assert Statement.objects.filter(created_at__date=date(2026, 3, 10)).count() == 3


# --- a real Celery worker builds the file ---------------------------------------------------


def _wait(job_id: int) -> Job:
    for _ in range(300):
        job = Job.objects.get(pk=job_id)
        if job.status in ("succeeded", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"still running: {job.status}")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(180)
def test_statements_are_built_by_a_real_celery_worker(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    merchant, factory = make_merchant(), make_factory()
    bind(merchant, factory)
    sub = open_service(factory, "ZTO", balance=5)
    set_prices(factory, {"merchant": MERCHANT_NO, "sku": "CUP-1", "price": "12.50"},
               {"merchant": MERCHANT_NO, "sku": "LID-2", "price": "3.20"})  # fmt: skip
    now = datetime.now(TZ)
    fos = [returned_at(merchant, factory, sub, now - timedelta(minutes=30)) for _ in range(2)]
    since, today = (now - timedelta(days=1)).date().isoformat(), now.date().isoformat()

    app.control.purge()  # messages other tests left for jobs that no longer exist
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        mine = st.statement_start(
            actor=main_actor(merchant), counterpart=FACTORY_NO, date_from=since, date_to=today
        )
        theirs = st.statement_start(
            actor=main_actor(factory),
            counterpart=MERCHANT_NO,
            date_from=since,
            date_to=today,
            file_format="xlsx",
            now=timezone.now() + timedelta(minutes=11),
        )
        jobs = [_wait(mine.job_id), _wait(theirs.job_id)]

    assert [j.status for j in jobs] == ["succeeded", "succeeded"]
    assert [j.result["total"] for j in jobs] == [
        "56.40",
        "56.40",
    ]  # 2 orders × (2 × 12.50 + 1 × 3.20)
    assert [j.result["missing_prices"] for j in jobs] == [0, 0]
    merchant_rows, factory_rows = read_file(jobs[0]), read_file(jobs[1])
    assert len(merchant_rows) == len(factory_rows) == 6
    assert {r[2] for r in merchant_rows[1:5]} == {fo.order.order_no for fo in fos}
    assert {r[5] for r in factory_rows[1:5]} == {fo.tracking_no for fo in fos}
    text = "\n".join(",".join(r) for r in factory_rows)
    for secret in (*SECRETS, MERCHANT_NO, *(fo.order.order_no for fo in fos)):
        assert secret not in text
