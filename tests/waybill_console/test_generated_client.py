"""A client generated from the served schema does the merchant's journey (issue 14).

``openapi-python-client`` (pinned in requirements-dev.txt) generates a Python client from
``/api/v1/schema/`` of a live server, offline (no post hooks: nothing is fetched or
formatted), into a temporary folder; the test then drives the live server with it alone,
as an ISV would: the merchant adds a shipping address and applies for a ZTO service, the
branch approves and recharges it (its own token), the merchant creates an order,
allocates its waybill number, fetches the label, cancels the number and downloads the
reconciliation statement that a real Celery worker generates.

Every answer is parsed into the generated models (``raise_on_unexpected_status``): a
status the schema does not list, or a body its model cannot read, fails the test.
"""

from __future__ import annotations

import csv
import importlib
import io
import subprocess
import sys
import time

import httpx
import pytest
from celery.contrib.testing.worker import start_worker

from carriers.demo import demo_branches_create
from carriers.models import Branch, Subscription
from shops.models import Order
from shops.services import api_token_create
from tests.conftest import ensure_carrier_catalog, make_shop, make_user
from waybill_console.celery import app
from waybill_console.models import DecryptionAudit
from waybills.models import Waybill

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

PACKAGE = "wbc_generated_client"
#: offline: no post hooks (ruff would be looked up on the PATH); labels and previews are
#: bytes like the octet-stream answers (the generator reads no other binary media type)
CONFIG = """\
post_hooks: []
content_type_overrides:
  application/pdf: application/octet-stream
  image/png: application/octet-stream
"""


@pytest.fixture
def generated(live_server, tmp_path):
    """The client package generated from the live server's schema, imported."""
    schema = httpx.get(f"{live_server.url}/api/v1/schema/?format=json", timeout=60)
    assert schema.status_code == 200
    (tmp_path / "schema.json").write_bytes(schema.content)
    (tmp_path / "config.yaml").write_text(CONFIG)
    run = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate",
         "--path", str(tmp_path / "schema.json"), "--config", str(tmp_path / "config.yaml"),
         "--output-path", str(tmp_path / PACKAGE), "--meta", "none"],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "Warning" not in output, output  # nothing left out of the client
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def module(name: str):
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_merchant_journey_with_the_generated_client(generated, live_server, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    ensure_carrier_catalog()
    if not Branch.objects.exists():
        demo_branches_create()
    branch = Branch.objects.filter(carrier__code="ZTO", region_code__startswith="33").first()
    shop = make_shop("150001", user=make_user("generated-client"), name="生成客户端商家")
    _, merchant_key = api_token_create(shop=shop)
    _, branch_key = api_token_create(branch=branch)
    m = module("models")

    def client(key: str):
        return generated.AuthenticatedClient(
            base_url=live_server.url, token=key, prefix="Token", raise_on_unexpected_status=True
        )

    merchant, carrier = client(merchant_key), client(branch_key)

    # the merchant's shipping address and its application; the branch approves, recharges
    address = module("api.addresses.addresses_create").sync_detailed(
        client=merchant,
        body=m.AddressRequest(contact_name="王仓管", phone="13800001111", province="浙江省",
                              city="杭州市", district="余杭区", detail="文一西路 1 号"),
    )  # fmt: skip
    assert address.status_code == 201, address.content
    applied = module("api.subscriptions.subscriptions_create").sync_detailed(
        client=merchant,
        body=m.SubscriptionApplyRequest(carrier="ZTO", branch=branch.code,
                                        address=address.parsed.id, contact_name="王经理",
                                        contact_phone="13800001111", agree=True),
    )  # fmt: skip
    assert applied.status_code == 201, applied.content
    sub_id = applied.parsed.id
    assert applied.parsed.status.value == "pending_review"
    approved = module("api.carrier.carrier_subscriptions_approve_create").sync_detailed(
        sub_id, client=carrier
    )
    assert approved.parsed.status.value == "active"
    recharged = module("api.carrier.carrier_subscriptions_recharge_create").sync_detailed(
        sub_id, client=carrier, body=m.RechargeRequest(count=10)
    )
    assert recharged.status_code == 200 and recharged.parsed.balance == 10

    # an order (JSON: the nested items and receiver), then its number
    created = module("api.orders.orders_create").sync_detailed(
        client=merchant,
        body=m.OrderCreateRequest(
            order_no="GEN-0001",
            items=[m.OrderItemRequest(sku="CUP-500-W", product_name="真空保温杯",
                                      spec="500ml 白色", quantity=2, unit_price="39.90")],
            receiver=m.ReceiverInputRequest(name="欧阳娜娜", phone="13912345678",
                                            province="浙江省", city="杭州市", district="西湖区",
                                            detail="文三路 90 号 5 幢 701"),
        ),
    )  # fmt: skip
    assert created.status_code == 201, created.content
    order = created.parsed
    assert (order.order_no, order.status.value) == ("GEN-0001", "paid")
    assert (order.receiver.name, order.receiver.phone) == ("欧***", "139****5678")
    assert order.items[0].quantity == 2 and order.items[0].unit_price == "39.90"
    assert Order.objects.filter(shop=shop).count() == 1

    allocated = module("api.waybills.waybills_create").sync_detailed(
        client=merchant, body=m.AllocateRequest(order=order.id, subscription=sub_id)
    )
    assert allocated.status_code == 201, allocated.content
    drawn = allocated.parsed
    waybill = Waybill.objects.get(order_id=order.id, package_no=1)
    assert isinstance(drawn, m.WaybillAllocation)
    assert (drawn.waybill_no, drawn.carrier, drawn.subscription) == (
        waybill.waybill_no,
        "ZTO",
        sub_id,
    )
    assert (drawn.created, drawn.status.value) == (True, "allocated")
    assert drawn.print_data.receiver.phone == "139****5678"
    assert drawn.print_data.sender.name == "王经理"
    assert [(p.package_no, p.waybill_no) for p in drawn.packages] == [(1, waybill.waybill_no)]

    label = module("api.waybills.waybills_label_retrieve").sync_detailed(
        waybill.waybill_no,
        client=merchant,
        format_=m.WaybillsLabelRetrieveFormat.PDF,
    )
    assert label.status_code == 200
    assert label.parsed.payload.read()[:5] == b"%PDF-"
    assert DecryptionAudit.objects.filter(shop=shop).count() == 1

    cancelled = module("api.waybills.waybills_cancel_create").sync_detailed(
        waybill.waybill_no, client=merchant
    )
    assert cancelled.status_code == 200, cancelled.content
    assert isinstance(cancelled.parsed, m.Waybill)
    assert cancelled.parsed.status.value == "cancelled"
    assert Waybill.objects.get(pk=waybill.pk).status == "cancelled"
    assert Subscription.objects.get(pk=sub_id).cancelled_total == 1

    # the reconciliation statement: a job on a real worker, then the file
    app.control.purge()  # messages other tests left for jobs that no longer exist
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        started = module("api.reconciliations.reconciliations_create").sync_detailed(
            client=merchant,
            body=m.ReconciliationRequest(
                format_=m.FormatEnum.CSV,
                conditions=m.ReconciliationRequestConditions.from_dict({"days": 7}),
            ),
        )
        assert started.status_code == 202, started.content
        job_id = started.parsed.id
        retrieve = module("api.reconciliations.reconciliations_retrieve")
        deadline = time.monotonic() + 120
        status = started.parsed
        while status.status != "generated":
            assert status.status == "generating" and time.monotonic() < deadline, status
            time.sleep(0.2)
            status = retrieve.sync_detailed(job_id, client=merchant).parsed
    assert status.error is None and status.progress == 100
    assert status.conditions.days == 7
    download = module("api.reconciliations.reconciliations_download_retrieve").sync_detailed(
        job_id, client=merchant
    )
    assert download.status_code == 200
    rows = list(csv.reader(io.StringIO(download.parsed.payload.read().decode("utf-8-sig"))))
    assert len(rows) == 2, rows
    line = rows[1]
    assert line[0] == f'="{waybill.waybill_no}"' and "GEN-0001" in line  # a text in Excel
    assert "139****5678" in line
    text = "\n".join(",".join(r) for r in rows)
    for secret in ("13912345678", "欧阳娜娜", "文三路"):
        assert secret not in text
