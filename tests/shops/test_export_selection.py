"""Exporting the ticked orders: exactly those, still this shop's and the last 90 days only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.conftest import make_order, token_client
from waybill_console.jobs import job_run
from waybill_console.models import Job

pytestmark = pytest.mark.django_db


def _post(client, shop, ids, **extra):
    client.force_login(shop.memberships.get().user)
    return client.post(
        "/console/orders/batch/", {"action": "export", "format": "csv", "ids": ids, **extra}
    )


def _exported(job: Job) -> list[str]:
    assert job_run(job_id=job.pk) == "succeeded"
    job.refresh_from_db()
    with open(job.file_path, encoding="utf-8-sig") as f:
        return sorted(line.split(",")[0] for line in f.read().splitlines()[1:])


def test_ticked_rows_are_exported_whatever_the_filter(client, shop_a, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    a, _b, c = (make_order(shop_a, f"T-{i}") for i in range(3))
    response = _post(client, shop_a, [a.pk, c.pk], status="unpaid")  # the filter matches none
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/console/jobs/{job.pk}/"
    assert job.total == 2
    assert _exported(job) == ["T-0", "T-2"]


def test_select_all_matching_exports_the_filter(client, shop_a, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    a = make_order(shop_a, "T-0")
    make_order(shop_a, "T-1")
    _post(client, shop_a, [a.pk], all_matching="1")
    assert _exported(Job.objects.get()) == ["T-0", "T-1"]


@pytest.mark.parametrize("whose", ["other shop", "older than 90 days"])
def test_a_ticked_order_out_of_scope_refuses_the_export(client, shop_a, shop_b, whose):
    mine = make_order(shop_a, "T-0")
    if whose == "other shop":
        foreign = make_order(shop_b, "B-0")
    else:
        foreign = make_order(shop_a, "OLD", created_at=timezone.now() - timedelta(days=95))
    response = _post(client, shop_a, [mine.pk, foreign.pk])
    assert response.status_code == 400
    assert "1 个勾选的订单无法导出" in response.content.decode()
    assert Job.objects.count() == 0


def test_the_api_exports_the_given_orders(shop_a, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    a = make_order(shop_a, "T-0")
    make_order(shop_a, "T-1")
    answer = token_client(shop_a).post(
        "/api/v1/orders/export/", {"format": "csv", "orders": [a.pk]}, format="json"
    )
    assert answer.status_code == 202 and answer.json()["total"] == 1
    assert _exported(Job.objects.get()) == ["T-0"]
