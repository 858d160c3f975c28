"""下载中心: the shop's past exports and statements (who, when, what, status, rows, size, a
download while the file is kept), newest first, 20 a page, by kind; the export permission
opens it and each kind's own permission shows its jobs; another shop's are never listed and
their download is a 404."""

from __future__ import annotations

import os
import re

import pytest
from django.template.defaultfilters import filesizeformat

from shops import services
from shops.services import exports
from tests.conftest import main_actor, make_order, token_client
from waybill_console import permissions as perms
from waybill_console.jobs import job_run
from waybill_console.models import Job
from waybill_console.tenancy import Actor
from waybills.services.jobs import reconciliation_start

pytestmark = pytest.mark.django_db

PAGE = "/console/downloads/"


def rows(html: str) -> list[str]:
    """The job ids listed, in page order."""
    return re.findall(r'<tr data-testid="download-(\d+)"', html)


def row(html: str, job: Job) -> str:
    start = html.index(f'data-testid="download-{job.pk}"')
    return html[start : html.index("</tr>", start)]


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


def test_the_shops_exports_are_listed_newest_first_with_who_what_status_and_size(
    client, shop_a, shop_b, media
):
    make_order(shop_a, "DL-1")
    packer = services.sub_account_create(
        actor=main_actor(shop_a),
        username="dl-packer",
        password="Pack-station-24",
        permissions=[perms.EXPORT],
        display_name="打包员小王",
    )
    export = exports.order_export_start(actor=Actor.for_membership(packer), params={})
    assert job_run(job_id=export.pk) == "succeeded"
    statement = reconciliation_start(actor=main_actor(shop_a), params={}, file_format="xlsx")
    assert job_run(job_id=statement.pk) == "succeeded"
    token_client(shop_a, scopes=[perms.EXPORT]).post(
        "/api/v1/orders/export/", {"format": "csv"}, format="json"
    )
    by_api = Job.objects.get(shop=shop_a, created_by=None)
    theirs = exports.order_export_start(actor=main_actor(shop_b), params={})
    assert job_run(job_id=theirs.pk) == "succeeded"

    client.force_login(shop_a.memberships.get(role="main").user)
    html = client.get(PAGE).content.decode()

    assert 'data-testid="nav-downloads"' in html and "下载中心" in html
    assert rows(html) == [str(by_api.pk), str(statement.pk), str(export.pk)]
    export.refresh_from_db()
    done = row(html, export)
    assert "订单导出" in done and "打包员小王" in done and "已完成" in done
    size = filesizeformat(os.path.getsize(export.file_path))
    assert f'data-testid="download-size">{size}<' in done
    assert f'href="/console/jobs/{export.pk}/download/"' in done and export.file_name in done
    assert "电子对账单" in row(html, statement) and ".xlsx" in row(html, statement)
    waiting = row(html, by_api)
    assert "接口调用" in waiting and "生成中" in waiting and "download-link" not in waiting

    # the link downloads the file; another shop's job is never listed and is a 404
    body = b"".join(client.get(f"/console/jobs/{export.pk}/download/").streaming_content)
    assert body.decode("utf-8-sig").startswith("订单号,") and "DL-1" in body.decode()
    assert str(theirs.pk) not in rows(html)
    assert client.get(f"/console/jobs/{theirs.pk}/download/").status_code == 404

    # by kind
    only = client.get(PAGE, {"kind": "reconciliation"}).content.decode()
    assert rows(only) == [str(statement.pk)]
    assert rows(client.get(PAGE, {"kind": "order_import"}).content.decode()) == []

    # in English
    client.cookies["django_language"] = "en"
    english = client.get(PAGE).content.decode()
    assert "Download centre" in english and "Order export" in english


def test_a_file_no_longer_kept_is_said_so_and_not_offered(client, shop_a, media):
    make_order(shop_a, "DL-2")
    job = exports.order_export_start(actor=main_actor(shop_a), params={})
    job_run(job_id=job.pk)
    job.refresh_from_db()
    os.remove(job.file_path)

    client.force_login(shop_a.memberships.get().user)
    listed = row(client.get(PAGE).content.decode(), job)
    assert 'data-testid="download-gone"' in listed and "download-link" not in listed
    gone = client.get(f"/console/jobs/{job.pk}/download/")
    assert gone.status_code == 404 and "文件已不再保留，请重新导出。" in gone.content.decode()


def test_twenty_a_page(client, shop_a):
    Job.objects.bulk_create(Job(shop=shop_a, kind="order_export") for _ in range(21))
    client.force_login(shop_a.memberships.get().user)
    first = client.get(PAGE).content.decode()
    second = client.get(PAGE, {"page": 2}).content.decode()
    assert len(rows(first)) == 20 and len(rows(second)) == 1
    assert not set(rows(first)) & set(rows(second))


def test_the_export_permission_opens_it_and_each_kind_shows_to_its_own_permission(client, shop_a):
    statement = Job.objects.create(shop=shop_a, kind="dropship_statement")
    export = Job.objects.create(shop=shop_a, kind="order_export")
    main = main_actor(shop_a)
    exporter = services.sub_account_create(
        actor=main, username="dl-export", password="Pack-station-24", permissions=[perms.EXPORT]
    )
    printer = services.sub_account_create(
        actor=main, username="dl-print", password="Pack-station-24", permissions=[perms.PRINT]
    )

    client.force_login(exporter.user)
    html = client.get(PAGE).content.decode()
    assert rows(html) == [str(export.pk)]  # a dropship statement needs 代发管理 too
    assert rows(client.get(PAGE, {"kind": "dropship_statement"}).content.decode()) == []

    client.force_login(printer.user)
    refused = client.get(PAGE)
    assert refused.status_code == 403 and str(export.pk) not in rows(refused.content.decode())
    assert 'data-testid="nav-downloads"' not in client.get("/console/").content.decode()

    client.force_login(shop_a.memberships.get(role="main").user)
    assert rows(client.get(PAGE).content.decode()) == [str(export.pk), str(statement.pk)]
