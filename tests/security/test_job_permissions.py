"""Every job kind declares the permission (token scope) that sees it, in the registry of
job kinds; every door that shows a job, its progress or its file checks it. A sub-account
without the permission and a token without the scope get 404 (not theirs to see), the
same as for another shop's job; with it they get the job and its file."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from shops import services as shop_services
from tests.conftest import main_actor, make_shop, make_user
from waybill_console import permissions as perms
from waybill_console.jobs import KINDS, job_file_path
from waybill_console.models import Job

pytestmark = pytest.mark.django_db

CONTENT = "订单号,收件人\r\nORD-1,张**\r\n"


@pytest.fixture
def shop(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    return make_shop("160001", user=make_user("job-owner"))


def _job(shop, kind: str) -> Job:
    job = Job.objects.create(
        shop=shop, kind=kind, status=Job.Status.SUCCEEDED, total=1, done=1, result={"rows": 1}
    )
    path = job_file_path(job, f"{kind}.csv")
    path.write_text(CONTENT, encoding="utf-8")
    Job.objects.filter(pk=job.pk).update(file_path=str(path), file_name=f"{kind}.csv")
    return job


def _token(shop, scopes) -> APIClient:
    _, key = shop_services.api_token_create(shop=shop, scopes=sorted(scopes))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api


def _sub_account(shop, permissions, name) -> Client:
    membership = shop_services.sub_account_create(
        actor=main_actor(shop), username=name, password="long-password-9", permissions=permissions
    )
    browser = Client()
    browser.force_login(membership.user)
    return browser


def _api_doors(job: Job) -> list[str]:
    doors = [f"/api/v1/jobs/{job.pk}/", f"/api/v1/jobs/{job.pk}/download/"]
    if job.kind == "reconciliation":
        doors += [
            f"/api/v1/reconciliations/{job.pk}/",
            f"/api/v1/reconciliations/{job.pk}/download/",
        ]
    return doors


def _page_doors(job: Job) -> list[str]:
    doors = [f"/console/jobs/{job.pk}/", f"/console/jobs/{job.pk}/download/"]
    if job.kind == "waybill_batch":
        doors.append(f"/console/waybills/batch/{job.pk}/")
    return doors


def test_every_job_kind_declares_a_known_permission():
    declared = {kind: KINDS[kind].permission for kind in KINDS}
    assert {k: declared.get(k) for k in ("order_export", "waybill_batch", "reconciliation")} == {
        "order_export": perms.EXPORT,
        "waybill_batch": perms.WAYBILL_ALLOCATE,
        "reconciliation": perms.EXPORT,
    }
    assert declared["dropship_statement"] == perms.DROPSHIP_MANAGE
    assert set(declared.values()) <= perms.ALL


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_job_is_hidden_from_those_without_its_permission(shop, kind):
    job = _job(shop, kind)
    needed = KINDS[kind].permission
    others = [p for p in perms.GRANTABLE if p != needed]
    before = list(Job.objects.values_list("pk", "status", "file_path", "result"))

    token = _token(shop, others)
    packer = _sub_account(shop, others, f"packer-{kind.replace('_', '-')}")
    for path in _api_doors(job):
        for who, client in (("token", token), ("sub-account session", packer)):
            response = client.get(path)
            assert response.status_code == 404, (who, path, response.status_code)
            assert response.json()["code"] == "NOT_FOUND"
            assert CONTENT.encode() not in b"".join(response)
    for path in _page_doors(job):
        response = packer.get(path)
        assert response.status_code == 404, (path, response.status_code)
        assert CONTENT.encode() not in b"".join(response)
    if kind == "reconciliation":
        assert token.get("/api/v1/reconciliations/").json()["results"] == []
    assert list(Job.objects.values_list("pk", "status", "file_path", "result")) == before


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_job_is_shown_to_those_with_its_permission(shop, kind):
    job = _job(shop, kind)
    needed = KINDS[kind].permission
    token = _token(shop, [needed])
    clerk = _sub_account(shop, [needed], f"clerk-{kind.replace('_', '-')}")
    for path in _api_doors(job):
        for who, client in (("token", token), ("sub-account session", clerk)):
            response = client.get(path)
            assert response.status_code == 200, (who, path, response.status_code)
            if path.endswith("/download/"):
                assert b"".join(response.streaming_content).decode() == CONTENT
            else:
                assert response.json()["id"] == job.pk
    for path in _page_doors(job):
        response = clerk.get(path)
        assert response.status_code == 200, (path, response.status_code)
        if path.endswith("/download/"):
            assert b"".join(response.streaming_content).decode() == CONTENT
    if kind == "reconciliation":
        listed = token.get("/api/v1/reconciliations/").json()["results"]
        assert [row["id"] for row in listed] == [job.pk]
