"""Pre-sale orders (预售): every logistics deadline counts from the promised ship date when it
is later than the payment, in the service, the sweep, the API, the import and the pages."""

import csv
import io
from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from shops import services
from shops.models import Membership, Order, OrderEvent
from shops.selectors import OrderFilters, order_list
from shops.services import imports
from tests.conftest import main_actor, make_order, token_client
from waybill_console.errors import AppError

pytestmark = pytest.mark.django_db

TZ = ZoneInfo("Asia/Shanghai")


def _today() -> datetime:
    return timezone.localtime().replace(hour=10, minute=0, second=0, microsecond=0)


def _presale(shop, no="PS-1", *, paid=None, days=10):
    paid = paid or _today()
    return make_order(
        shop,
        no,
        created_at=paid,
        paid_at=paid,
        promised_ship_at=paid + timedelta(days=days),
    )


def _sweep(at):
    return services.orders_apply_time_rules(as_of=at)


def test_presale_ready_to_ship_deadline_counts_from_the_promised_date(shop_a):
    t0 = _today()
    order = _presale(shop_a, paid=t0)
    promised = t0 + timedelta(days=10)
    assert order.promised_ship_at == promised
    assert order.sla_due_at == promised + timedelta(hours=48)
    # three days after payment: a normal order is 24 h late, a pre-sale one is not
    normal = make_order(shop_a, "N-1", created_at=t0, paid_at=t0)
    assert _sweep(t0 + timedelta(days=3))["sla_breaches"] == 1
    assert Order.objects.get(pk=normal.pk).sla_breaches == ["ready_to_ship"]
    assert Order.objects.get(pk=order.pk).sla_breaches == []
    assert _sweep(promised + timedelta(hours=47, minutes=59))["sla_breaches"] == 0
    assert Order.objects.get(pk=order.pk).sla_breaches == []
    assert _sweep(promised + timedelta(hours=48))["sla_breaches"] == 1
    order.refresh_from_db()
    assert order.sla_breaches == ["ready_to_ship"]
    event = OrderEvent.objects.get(order=order, kind="sla_breached")
    assert event.data["deadline"] == "ready_to_ship"
    assert datetime.fromisoformat(event.data["due_at"]) == promised + timedelta(hours=48)


def test_presale_is_not_at_risk_before_its_promised_date(shop_a):
    t0 = _today()
    order = _presale(shop_a, paid=t0)
    actor = main_actor(shop_a)

    def risky(at):
        return [o.pk for o in order_list(actor=actor, filters=OrderFilters(at_risk=True), now=at)]

    assert risky(t0 + timedelta(days=3)) == []
    assert risky(t0 + timedelta(days=11, hours=12)) == [order.pk]


def test_presale_pickup_and_transit_deadlines_count_from_the_promised_date(shop_a):
    t0 = _today()
    order = _presale(shop_a, paid=t0)
    promised = t0 + timedelta(days=10)
    # labelled early (day 1): picked up within 72 h of the promised date, not of day 1
    services.order_mark_ready(actor=main_actor(shop_a), order=order, now=t0 + timedelta(days=1))
    order.refresh_from_db()
    assert order.sla_due_at == promised + timedelta(hours=72)
    assert _sweep(t0 + timedelta(days=5))["sla_breaches"] == 0
    assert _sweep(promised + timedelta(hours=72))["sla_breaches"] == 1
    order.refresh_from_db()
    assert order.sla_breaches == ["pickup"]
    services.order_record_logistics(
        order=order, status="picked_up", at=promised + timedelta(hours=80)
    )
    order.refresh_from_db()
    assert order.sla_due_at == promised + timedelta(hours=120)


def test_a_promised_date_before_the_payment_changes_nothing(shop_a):
    t0 = _today()
    order = make_order(
        shop_a, "PS-EARLY", created_at=t0, paid_at=t0, promised_ship_at=t0 - timedelta(days=1)
    )
    assert order.sla_due_at == t0 + timedelta(hours=48)


def test_unpaid_presale_counts_from_the_promised_date_once_paid(shop_a):
    t0 = _today()
    order = make_order(
        shop_a,
        "PS-UNPAID",
        status="unpaid",
        created_at=t0,
        promised_ship_at=t0 + timedelta(days=7),
    )
    assert order.sla_due_at is None
    services.order_pay(actor=main_actor(shop_a), order=order, now=t0 + timedelta(hours=1))
    order.refresh_from_db()
    assert order.sla_due_at == t0 + timedelta(days=7, hours=48)


def test_expire_orders_as_of_treats_presale_by_its_promised_date(shop_a):
    t0 = _today()
    order = _presale(shop_a, paid=t0)
    out = StringIO()
    call_command("expire_orders", "--as-of", (t0 + timedelta(days=3)).isoformat(), stdout=out)
    assert "sla_breaches: 0" in out.getvalue()
    assert Order.objects.get(pk=order.pk).sla_breaches == []
    out = StringIO()
    at = t0 + timedelta(days=10, hours=48)
    call_command("expire_orders", "--as-of", at.isoformat(), stdout=out)
    assert "sla_breaches: 1" in out.getvalue()
    assert Order.objects.get(pk=order.pk).sla_breaches == ["ready_to_ship"]


def _body(no, **extra):
    return {
        "order_no": no,
        "items": [{"sku": "S1", "product_name": "保温杯", "quantity": 1, "unit_price": "9.90"}],
        "receiver": {
            "name": "张三",
            "phone": "13812345678",
            "province": "浙江省",
            "city": "杭州市",
            "district": "西湖区",
            "detail": "文三路 1 号",
        },
        **extra,
    }


def test_api_creates_a_presale_order_and_answers_its_promised_date(shop_a):
    client = token_client(shop_a)
    promised = (_today() + timedelta(days=10)).astimezone(TZ)
    answer = client.post(
        "/api/v1/orders/", _body("API-PS", promised_ship_at=promised.isoformat()), format="json"
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert datetime.fromisoformat(body["promised_ship_at"]) == promised
    assert datetime.fromisoformat(body["sla_due_at"]) == promised + timedelta(hours=48)
    order = Order.objects.get(order_no="API-PS")
    assert order.promised_ship_at == promised
    detail = client.get(f"/api/v1/orders/{order.pk}/").json()
    assert datetime.fromisoformat(detail["promised_ship_at"]) == promised
    plain = client.post("/api/v1/orders/", _body("API-N"), format="json").json()
    assert plain["promised_ship_at"] is None


@pytest.mark.parametrize(
    "value", ["9999-12-31T00:00:00+08:00", "not a date", "+91d", "2026-02-30T10:00:00+08:00"]
)
def test_api_refuses_a_bad_or_too_far_promised_date(shop_a, value):
    if value == "+91d":
        value = (timezone.now() + timedelta(days=91)).isoformat()
    answer = token_client(shop_a).post(
        "/api/v1/orders/", _body("API-BAD", promised_ship_at=value), format="json"
    )
    assert answer.status_code == 400, answer.content
    body = answer.json()
    assert body["code"] == "VALIDATION_ERROR" and list(body["detail"]) == ["promised_ship_at"]
    assert Order.objects.count() == 0


def _csv(rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(imports.TEMPLATE_HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _line(no, promised, paid=""):
    return [no, "已付款", paid, "S1", "保温杯", "500ml", "1", "9.90", "张三", "13812345678",
            "浙江省", "杭州市", "西湖区", "文三路 1 号", "", promised]  # fmt: skip


def test_import_reads_the_presale_column(shop_a):
    t0 = _today()
    paid = t0.strftime("%Y-%m-%d %H:%M:%S")
    day = (t0 + timedelta(days=10)).date()
    moment = (t0 + timedelta(days=12)).replace(hour=9)
    raw = _csv(
        [
            _line("IM-PS-1", day.isoformat(), paid),
            _line("IM-PS-2", moment.strftime("%Y-%m-%d %H:%M:%S"), paid),
            _line("IM-N", "", paid),
        ]
    )
    assert "预售发货时间" in imports.TEMPLATE_HEADER
    result = imports.order_import(actor=main_actor(shop_a), file_name="a.csv", raw=raw)
    assert result == {"orders": 3, "items": 3}
    one = Order.objects.get(order_no="IM-PS-1")
    start_of_day = datetime(day.year, day.month, day.day, tzinfo=TZ)
    assert one.promised_ship_at == start_of_day
    assert one.sla_due_at == start_of_day + timedelta(hours=48)
    two = Order.objects.get(order_no="IM-PS-2")
    assert two.promised_ship_at == moment
    plain = Order.objects.get(order_no="IM-N")
    assert plain.promised_ship_at is None and plain.sla_due_at == t0 + timedelta(hours=48)


@pytest.mark.parametrize("value", ["下周", "2026-02-30", "9999-12-31", "+91d"])
def test_import_refuses_a_bad_presale_cell_on_its_line(shop_a, value):
    if value == "+91d":
        value = (timezone.localtime() + timedelta(days=91)).strftime("%Y-%m-%d")
    raw = _csv([_line("IM-OK", ""), _line("IM-BAD", value)])
    with pytest.raises(AppError) as caught:
        imports.order_import(actor=main_actor(shop_a), file_name="a.csv", raw=raw)
    lines = caught.value.detail["lines"]
    assert [(p["line"], p["field"], p["label"]) for p in lines] == [
        (3, "promised_ship_at", "预售发货时间")
    ]
    assert Order.objects.count() == 0


def test_order_pages_show_presale_with_its_date(shop_a):
    t0 = _today()
    order = _presale(shop_a, paid=t0)
    make_order(shop_a, "N-PAGE", created_at=t0, paid_at=t0)
    client = Client()
    client.force_login(shop_a.memberships.get(role=Membership.Role.MAIN).user)
    promised = timezone.localtime(order.promised_ship_at)
    page = client.get("/console/orders/").content.decode()
    assert page.count('data-testid="presale"') == 1
    assert f"预售 {promised:%m-%d}" in page
    detail = client.get(f"/console/orders/{order.pk}/").content.decode()
    assert f"预售 {promised:%Y-%m-%d}" in detail
    assert f"{promised:%Y-%m-%d %H:%M}" in detail
