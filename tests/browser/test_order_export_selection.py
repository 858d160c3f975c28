"""导出 on the order list exports exactly the ticked rows (still this shop's, still the last
90 days); with nothing ticked it exports what the filters show. Chromium ticks the rows and
downloads the file the real Celery worker writes."""

from __future__ import annotations

import csv
import io

import pytest
from celery.contrib.testing.worker import start_worker

from tests.browser.conftest import login, submit
from tests.conftest import make_order, make_shop, make_user
from waybill_console.celery import app
from waybill_console.models import Job

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pass-export-1"


def _exported_order_numbers(page) -> list[str]:
    page.locator("[data-testid=job][data-status=succeeded]").wait_for(timeout=30000)
    with page.expect_download() as info:
        page.get_by_test_id("download").click()
    raw = open(info.value.path(), "rb").read()
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][0] == "订单号"
    return sorted(r[0] for r in rows[1:])


def test_export_takes_the_ticked_rows_and_else_the_filter(page, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    shop = make_shop("100001", user=make_user("export-merchant", password=PASSWORD))
    orders = {no: make_order(shop, no) for no in ("EX-1", "EX-2", "EX-3", "EX-4")}
    other = make_shop("100002", user=make_user("export-other", password=PASSWORD))
    make_order(other, "OTHER-1")

    login(page, "export-merchant", PASSWORD)
    page.wait_for_url("**/console/")
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        page.goto(page.base_url + "/console/orders/")
        for no in ("EX-2", "EX-4"):
            page.locator(f".row-check[value='{orders[no].pk}']").check()
        submit(page, page.get_by_test_id("export"))
        assert _exported_order_numbers(page) == ["EX-2", "EX-4"]
        ticked = Job.objects.get(kind="order_export")
        assert sorted(ticked.params["orders"]) == [orders["EX-2"].pk, orders["EX-4"].pk]

        page.goto(page.base_url + "/console/orders/")  # nothing ticked: the filter, as before
        submit(page, page.get_by_test_id("export"))
        assert _exported_order_numbers(page) == ["EX-1", "EX-2", "EX-3", "EX-4"]
