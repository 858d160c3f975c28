"""Webhook endpoints through their services and ``/api/v1/webhooks/``: the secret shown
once, refusals by field, internal addresses refused unless the operator allowed them,
another shop's endpoint a 404 on every route, permissions and token scopes; with a real
worker and a local receiver, the test message verified by the published Standard
Webhooks library with the secret shown at creation, and a failed delivery resent with
the same ``webhook-id``."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook

from events.models import Delivery, DeliveryAttempt, DeliveryStatus, Endpoint, Event
from events.services import endpoints as services
from events.types import TYPES
from shops import services as shop_services
from tests.conftest import main_actor, make_shop, make_user, token_client
from waybill_console import permissions as perms
from waybill_console.crypto import open_secret
from waybill_console.errors import AppError

PUBLIC = "https://93.184.216.34/hooks"  # a public address, no name to resolve


def new_endpoint(shop, url: str = PUBLIC, **kw) -> tuple[Endpoint, str]:
    return services.endpoint_create(actor=main_actor(shop), url=url, **kw)


def a_delivery(endpoint: Endpoint, **kw) -> Delivery:
    now = timezone.now()
    event = Event.objects.create(
        msg_id=f"msg_t{Event.objects.count() + 1}",
        shop=endpoint.shop,
        type="order.created",
        at=now,
        data={"id": 1},
        dispatched_at=now,
    )
    kw.setdefault("next_attempt_at", now)
    return Delivery.objects.create(endpoint=endpoint, event=event, created_at=now, **kw)


def stored_secret(endpoint: Endpoint) -> str:
    return open_secret(Endpoint.objects.get(pk=endpoint.pk).secret)


# --- create, the secret once ----------------------------------------------------------------


@pytest.mark.django_db
def test_create_answers_the_secret_once_and_list_and_detail_never_show_it(shop_a):
    api = token_client(shop_a)
    created = api.post(
        "/api/v1/webhooks/",
        {"url": PUBLIC, "description": "ERP", "events": ["order.created", "quota.low"]},
    )
    assert created.status_code == 201, created.content
    body = created.json()
    secret = body["secret"]
    assert secret.startswith("whsec_") and len(secret) == len("whsec_") + 32
    endpoint = Endpoint.objects.get(shop=shop_a)
    assert body["id"] == endpoint.pk
    assert (body["url"], body["description"], body["is_enabled"]) == (PUBLIC, "ERP", True)
    assert body["events"] == body["event_types"] == ["order.created", "quota.low"]
    assert stored_secret(endpoint) == secret
    with connection.cursor() as cur:  # encrypted at rest
        cur.execute("SELECT secret FROM events_endpoint WHERE id = %s", [endpoint.pk])
        assert secret not in cur.fetchone()[0]

    listed = api.get("/api/v1/webhooks/")
    detail = api.get(f"/api/v1/webhooks/{endpoint.pk}/")
    for answer in (listed, detail):
        assert answer.status_code == 200
        assert secret not in answer.content.decode()
        assert secret[6:16] not in answer.content.decode()
    assert "secret" not in detail.json() and detail.json()["has_secret"] is True
    assert [e["id"] for e in listed.json()] == [endpoint.pk]


@pytest.mark.django_db
def test_no_event_types_means_every_type_and_the_types_are_listed(shop_a):
    endpoint, _secret = new_endpoint(shop_a, event_types=[])
    assert endpoint.event_types == [] and endpoint.wants("sla.missed")
    api = token_client(shop_a, language="en")
    types = api.get("/api/v1/webhooks/event-types/").json()
    assert [t["name"] for t in types] == list(TYPES)
    assert {"name": "quota.low", "label": "Waybill balance low"} in types


# --- refusals by field -----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    ["ftp://93.184.216.34/hooks", "https://user:pw@93.184.216.34/hooks", "hooks", "", "http:///x"],
)
def test_a_url_that_is_not_http_with_a_host_and_no_user_info_is_refused(shop_a, url):
    api = token_client(shop_a, language="en")
    answer = api.post("/api/v1/webhooks/", {"url": url})
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] in ("WEBHOOK_URL_INVALID", "VALIDATION_ERROR")
    assert list(body["detail"]) == ["url"]
    assert not Endpoint.objects.exists()


@pytest.mark.django_db
def test_user_info_is_refused_with_its_reason(shop_a):
    with pytest.raises(AppError) as refused:
        new_endpoint(shop_a, url="https://user:pw@93.184.216.34/hooks")
    assert refused.value.code == "WEBHOOK_URL_INVALID"
    assert refused.value.detail == {"url": ["该地址不能包含用户名或密码。"]}


@pytest.mark.django_db
def test_an_unknown_event_type_is_refused_under_the_name_the_request_used(shop_a):
    api = token_client(shop_a, language="en")
    for field in ("events", "event_types"):
        answer = api.post("/api/v1/webhooks/", {"url": PUBLIC, field: ["order.created", "nope"]})
        assert answer.status_code == 400
        assert answer.json() == {
            "code": "WEBHOOK_EVENT_TYPE_UNKNOWN",
            "message": "Some of the event types do not exist.",
            "detail": {field: ["Unknown event type: nope"]},
        }
    assert not Endpoint.objects.exists()


@pytest.mark.django_db
def test_a_description_over_100_characters_is_refused(shop_a):
    answer = token_client(shop_a).post(
        "/api/v1/webhooks/", {"url": PUBLIC, "description": "x" * 101}
    )
    assert answer.status_code == 400 and list(answer.json()["detail"]) == ["description"]


# --- internal addresses --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_loopback_url_is_refused_unless_the_operator_allowed_its_network(shop_a, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    api = token_client(shop_a)
    refused = api.post("/api/v1/webhooks/", {"url": "http://127.0.0.1:8080/hooks"})
    assert refused.status_code == 400
    body = refused.json()
    assert body["code"] == "WEBHOOK_URL_NOT_ALLOWED"
    assert body["detail"]["address"] == "127.0.0.1"
    [reason] = body["detail"]["url"]
    assert "127.0.0.1" in reason and "WEBHOOK_ALLOWED_NETWORKS" in reason
    assert not Endpoint.objects.exists()

    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    allowed = api.post("/api/v1/webhooks/", {"url": "http://127.0.0.1:8080/hooks"})
    assert allowed.status_code == 201
    assert Endpoint.objects.get().url == "http://127.0.0.1:8080/hooks"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "http://[::ffff:127.0.0.1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://192.168.1.10/",
        "http://0.0.0.0/",
        "http://localhost/",
        "http://[::1]:8000/",
    ],
)
def test_internal_addresses_are_refused(shop_a, settings, url):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    with pytest.raises(AppError) as refused:
        new_endpoint(shop_a, url=url)
    assert refused.value.code == "WEBHOOK_URL_NOT_ALLOWED"
    assert list(refused.value.detail) == ["url", "address"]
    assert not Endpoint.objects.exists()


@pytest.mark.django_db
def test_a_host_that_does_not_resolve_is_refused(shop_a):
    with pytest.raises(AppError) as refused:
        new_endpoint(shop_a, url="https://no-such-host.invalid/hooks")
    assert refused.value.code == "WEBHOOK_URL_NOT_ALLOWED"
    assert refused.value.detail == {"url": ["主机名无法解析，请检查地址。"]}


@pytest.mark.django_db
def test_a_changed_url_is_checked_too(shop_a, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    endpoint, _secret = new_endpoint(shop_a)
    answer = token_client(shop_a).patch(
        f"/api/v1/webhooks/{endpoint.pk}/", {"url": "http://10.1.2.3/"}
    )
    assert answer.status_code == 400 and answer.json()["code"] == "WEBHOOK_URL_NOT_ALLOWED"
    assert Endpoint.objects.get(pk=endpoint.pk).url == PUBLIC


# --- another shop's, permissions, scopes ----------------------------------------------------------


@pytest.mark.django_db
def test_another_shops_endpoint_and_delivery_are_404_on_every_route(shop_a, shop_b):
    theirs, their_secret = new_endpoint(shop_a)
    their_delivery = a_delivery(theirs, status=DeliveryStatus.FAILED, attempts=4)
    mine, _secret = new_endpoint(shop_b)
    api = token_client(shop_b)
    base = f"/api/v1/webhooks/{theirs.pk}"
    calls = [
        ("get", f"{base}/", None),
        ("patch", f"{base}/", {"description": "mine now"}),
        ("delete", f"{base}/", None),
        ("post", f"{base}/rotate-secret/", None),
        ("post", f"{base}/test/", None),
        ("get", f"{base}/deliveries/", None),
        ("get", f"{base}/deliveries/{their_delivery.pk}/", None),
        ("post", f"{base}/deliveries/{their_delivery.pk}/resend/", None),
        # their delivery under my own endpoint
        ("get", f"/api/v1/webhooks/{mine.pk}/deliveries/{their_delivery.pk}/", None),
        ("post", f"/api/v1/webhooks/{mine.pk}/deliveries/{their_delivery.pk}/resend/", None),
    ]
    for method, url, data in calls:
        answer = getattr(api, method)(url, data) if data else getattr(api, method)(url)
        assert answer.status_code == 404, (method, url, answer.status_code)
        assert answer.json()["code"] == "NOT_FOUND"
    with pytest.raises(AppError) as refused:
        services.delivery_resend(actor=main_actor(shop_b), delivery_id=their_delivery.pk)
    assert refused.value.status == 404
    # nothing changed
    theirs.refresh_from_db()
    assert theirs.description == "" and stored_secret(theirs) == their_secret
    their_delivery.refresh_from_db()
    assert (their_delivery.status, their_delivery.resend_requested) == ("failed", False)
    assert Delivery.objects.count() == 1 and Event.objects.count() == 1


@pytest.mark.django_db
def test_a_sub_account_without_webhook_manage_is_refused(shop_a):
    endpoint, _secret = new_endpoint(shop_a)
    clerk = shop_services.sub_account_create(
        actor=main_actor(shop_a),
        username="clerk-hooks",
        password="pass-12345",
        permissions=[perms.ORDER_MANAGE],
    )
    api = APIClient()
    api.force_login(clerk.user)
    for answer in (
        api.get("/api/v1/webhooks/"),
        api.post("/api/v1/webhooks/", {"url": PUBLIC}, format="json"),
        api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/"),
        api.post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret/"),
    ):
        assert answer.status_code == 403
        assert answer.json()["code"] == "PERMISSION_DENIED"
        assert answer.json()["detail"] == {"permission": "webhook.manage"}
    assert Endpoint.objects.count() == 1

    granted = shop_services.sub_account_create(
        actor=main_actor(shop_a),
        username="clerk-hooks-2",
        password="pass-12345",
        permissions=[perms.WEBHOOK_MANAGE],
    )
    api.force_login(granted.user)
    listed = api.get("/api/v1/webhooks/")
    assert listed.status_code == 200 and endpoint.url in listed.content.decode()


@pytest.mark.django_db
def test_a_token_without_the_webhook_scope_is_refused(shop_a):
    endpoint, _secret = new_endpoint(shop_a)
    api = token_client(shop_a, scopes=[perms.ORDER_MANAGE, perms.WAYBILL_ALLOCATE])
    assert api.get("/api/v1/webhooks/").status_code == 403
    assert api.post("/api/v1/webhooks/", {"url": PUBLIC}).status_code == 403
    assert api.delete(f"/api/v1/webhooks/{endpoint.pk}/").status_code == 403
    assert Endpoint.objects.filter(pk=endpoint.pk).exists()
    scoped = token_client(shop_a, scopes=[perms.WEBHOOK_MANAGE])
    listed = scoped.get("/api/v1/webhooks/")
    assert listed.status_code == 200 and endpoint.url in listed.content.decode()


# --- rotate, update, delete ----------------------------------------------------------------


@pytest.mark.django_db
def test_rotate_changes_the_secret_and_shows_the_new_one_once(shop_a):
    endpoint, old = new_endpoint(shop_a)
    api = token_client(shop_a)
    rotated = api.post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret/")
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new.startswith("whsec_") and new != old
    assert stored_secret(endpoint) == new
    assert new not in api.get(f"/api/v1/webhooks/{endpoint.pk}/").content.decode()


@pytest.mark.django_db
def test_enabling_again_forgets_the_failures(shop_a):
    endpoint, _secret = new_endpoint(shop_a)
    since = timezone.now() - timedelta(days=3)
    Endpoint.objects.filter(pk=endpoint.pk).update(
        is_enabled=False,
        disabled_reason="failing since 2026-01-01 00:00 UTC",
        failing_since=since,
        consecutive_failures=9,
        retry_at=timezone.now() + timedelta(hours=5),
    )
    api = token_client(shop_a)
    answer = api.patch(f"/api/v1/webhooks/{endpoint.pk}/", {"is_enabled": True})
    assert answer.status_code == 200
    assert (answer.json()["is_enabled"], answer.json()["disabled_reason"]) == (True, "")
    assert answer.json()["failing_since"] is None
    endpoint.refresh_from_db()
    assert (endpoint.failing_since, endpoint.consecutive_failures, endpoint.retry_at) == (
        None,
        0,
        None,
    )


@pytest.mark.django_db
def test_update_changes_only_what_is_given(shop_a):
    endpoint, _secret = new_endpoint(shop_a, description="ERP", event_types=["quota.low"])
    answer = token_client(shop_a).patch(
        f"/api/v1/webhooks/{endpoint.pk}/", {"events": ["sla.missed", "order.created"]}
    )
    assert answer.status_code == 200
    endpoint.refresh_from_db()
    assert endpoint.event_types == ["order.created", "sla.missed"]  # the table's order
    assert (endpoint.description, endpoint.url, endpoint.is_enabled) == ("ERP", PUBLIC, True)
    disabled = token_client(shop_a).patch(f"/api/v1/webhooks/{endpoint.pk}/", {"is_enabled": False})
    assert disabled.json()["is_enabled"] is False


@pytest.mark.django_db
def test_delete_removes_the_endpoint_and_its_log(shop_a):
    endpoint, _secret = new_endpoint(shop_a)
    a_delivery(endpoint)
    answer = token_client(shop_a).delete(f"/api/v1/webhooks/{endpoint.pk}/")
    assert answer.status_code == 204
    assert not Endpoint.objects.exists() and not Delivery.objects.exists()


@pytest.mark.django_db
def test_a_shop_has_at_most_20_endpoints(shop_a):
    for _ in range(services.ENDPOINT_LIMIT):
        new_endpoint(shop_a)
    answer = token_client(shop_a).post("/api/v1/webhooks/", {"url": PUBLIC})
    assert answer.status_code == 409 and answer.json()["code"] == "WEBHOOK_ENDPOINT_LIMIT"
    assert Endpoint.objects.count() == services.ENDPOINT_LIMIT


# --- the delivery log ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_delivery_log_is_newest_first_filtered_and_paged(shop_a):
    endpoint, _secret = new_endpoint(shop_a)
    made = [
        a_delivery(endpoint, status=status, attempts=n)
        for n, status in enumerate(["succeeded", "failed", "succeeded", "pending"])
    ]
    api = token_client(shop_a)
    log = api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/").json()
    assert log["count"] == 4
    assert [d["id"] for d in log["results"]] == [d.pk for d in reversed(made)]
    first = log["results"][-1]
    assert first["event_id"] == made[0].event.msg_id and first["event_type"] == "order.created"
    delivered = api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/?status=succeeded").json()
    assert [d["id"] for d in delivered["results"]] == [made[2].pk, made[0].pk]
    paged = api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/?page_size=3&page=2").json()
    assert [d["id"] for d in paged["results"]] == [made[0].pk]
    bad = api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/?status=nope")
    assert bad.status_code == 400 and list(bad.json()["detail"]) == ["status"]


@pytest.mark.django_db
def test_resend_makes_the_delivery_due_now_and_keeps_its_attempts(shop_a):
    endpoint, _secret = new_endpoint(shop_a)
    Endpoint.objects.filter(pk=endpoint.pk).update(retry_at=timezone.now() + timedelta(hours=2))
    delivery = a_delivery(endpoint, status=DeliveryStatus.FAILED, attempts=9, next_attempt_at=None)
    answer = token_client(shop_a).post(
        f"/api/v1/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/resend/"
    )
    assert answer.status_code == 202
    assert (answer.json()["status"], answer.json()["attempts"]) == ("pending", 9)
    delivery.refresh_from_db()
    assert delivery.resend_requested and delivery.next_attempt_at <= timezone.now()
    assert Endpoint.objects.get(pk=endpoint.pk).retry_at is None  # a person is waiting


@pytest.mark.django_db
def test_a_disabled_endpoint_refuses_a_test_and_a_resend(shop_a):
    endpoint, _secret = new_endpoint(shop_a, is_enabled=False)
    delivery = a_delivery(endpoint, status=DeliveryStatus.FAILED)
    api = token_client(shop_a)
    for url in (
        f"/api/v1/webhooks/{endpoint.pk}/test/",
        f"/api/v1/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/resend/",
    ):
        answer = api.post(url)
        assert answer.status_code == 409 and answer.json()["code"] == "WEBHOOK_ENDPOINT_DISABLED"
    assert Delivery.objects.get().status == "failed" and Event.objects.count() == 1


# --- with a worker and a receiver ------------------------------------------------------------


def wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_test_message_verifies_with_the_secret_shown_at_creation(receiver, events_worker):
    shop = make_shop(user=make_user())
    api = token_client(shop)
    created = api.post("/api/v1/webhooks/", {"url": receiver.url, "events": ["quota.low"]})
    assert created.status_code == 201, created.content
    endpoint_id, secret = created.json()["id"], created.json()["secret"]

    sent = api.post(f"/api/v1/webhooks/{endpoint_id}/test/")
    assert sent.status_code == 202
    [got] = receiver.wait_for(1)
    payload = Webhook(secret).verify(got.body, got.headers)  # the published verifier
    assert payload["type"] == "webhook.test"
    assert payload["data"] == {"endpoint_id": endpoint_id, "message": "test"}
    assert got.headers["webhook-id"] == sent.json()["event_id"]
    delivery = wait_for(
        lambda: Delivery.objects.filter(pk=sent.json()["id"], status="succeeded").first(),
        what="the test delivery delivered",
    )
    assert (delivery.attempts, delivery.last_status_code) == (1, 200)
    # only this endpoint: the test message is no event the dispatcher hands out
    assert Delivery.objects.count() == 1


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_failed_delivery_resent_arrives_with_the_same_webhook_id(receiver, events_worker):
    receiver.default_status = 500
    shop = make_shop(user=make_user())
    api = token_client(shop)
    created = api.post("/api/v1/webhooks/", {"url": receiver.url})
    endpoint_id, secret = created.json()["id"], created.json()["secret"]
    sent = api.post(f"/api/v1/webhooks/{endpoint_id}/test/").json()
    failed = wait_for(
        lambda: Delivery.objects.filter(pk=sent["id"], status="failed").first(),
        timeout=45,
        what="the delivery to fail after its retries",
    )
    tries = failed.attempts
    assert tries == 4  # the first try and the three steps of the test schedule
    assert len(receiver.received) == tries
    assert not DeliveryAttempt.objects.filter(manual=True).exists()

    receiver.default_status = 200
    resent = api.post(f"/api/v1/webhooks/{endpoint_id}/deliveries/{sent['id']}/resend/")
    assert resent.status_code == 202
    [got] = receiver.wait_for(1)
    assert got.headers["webhook-id"] == sent["event_id"]
    assert {r.headers["webhook-id"] for r in receiver.received} == {sent["event_id"]}
    Webhook(secret).verify(got.body, got.headers)
    done = wait_for(
        lambda: Delivery.objects.filter(pk=sent["id"], status="succeeded").first(),
        what="the resent delivery delivered",
    )
    assert done.attempts == tries + 1 and not done.resend_requested
    detail = api.get(f"/api/v1/webhooks/{endpoint_id}/deliveries/{sent['id']}/").json()
    log = detail["attempt_log"]
    assert len(log) == tries + 1
    assert (log[0]["status_code"], log[0]["manual"]) == (200, True)  # newest first
    assert [a["manual"] for a in log[1:]] == [False] * tries
    assert {a["status_code"] for a in log[1:]} == {500}
