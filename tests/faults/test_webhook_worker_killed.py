"""The events worker SIGKILLed while a webhook is in flight: nothing is lost.

The receiver holds the first request open; the worker is killed mid-post; the receiver
then answers a sender that is gone. A new worker posts the delivery again once the dead
sender's hold on the endpoint lapses (``WEBHOOK_LEASE_SECONDS``): the receiver has the
message at least once, every copy with the same ``webhook-id`` and a valid signature, and
the delivery is recorded delivered."""

from __future__ import annotations

import json
import threading

from standardwebhooks.webhooks import Webhook

from tests.fakes.webhook_receiver import WebhookReceiver
from tests.faults.helpers import rows
from tests.faults.servers import wait_for

APP_ENV = {
    "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
    "WEBHOOK_LEASE_SECONDS": "3",
    "WEBHOOK_SWEEP_SECONDS": "1",
    "WEBHOOK_RETRY_SCHEDULE": "1,1,1",
}

SETUP = """
from django.db import transaction
from events import signing
from events.models import Endpoint
from events.services.outbox import emit
from shops.models import Shop
shop = Shop.objects.get(shop_no="100001")
secret = signing.new_secret()
Endpoint.objects.create(shop=shop, url={url!r}, secret=secret)
with transaction.atomic():
    emit(shop.id, "quota.low", {{"id": 1, "carrier": "ZTO", "balance": 9}})
print(secret)
"""


def test_a_delivery_in_flight_when_its_worker_is_killed_is_posted_again(app):
    db = app.db()
    with WebhookReceiver() as receiver:
        receiver.hang_event = threading.Event()
        secret = app.manage("shell", "-c", SETUP.format(url=receiver.url)).split()[-1]
        app.start_worker("events-1", queues="events")
        assert receiver.arrived.wait(60), "the first post never arrived"
        [(status, attempts)] = rows(
            db, "SELECT status, attempts FROM events_delivery ORDER BY id DESC LIMIT 1"
        )
        assert (status, attempts) == ("pending", 0)

        app.kill("events-1")
        receiver.hang_event.set()  # answers a sender that is gone: not recorded as delivered
        receiver.wait_for(1)
        [(status, attempts)] = rows(
            db, "SELECT status, attempts FROM events_delivery ORDER BY id DESC LIMIT 1"
        )
        assert (status, attempts) == ("pending", 0)

        app.start_worker("events-2", queues="events")
        wait_for(
            lambda: rows(db, "SELECT 1 FROM events_delivery WHERE status = 'succeeded'"),
            timeout=60,
            what="the delivery to be posted again and recorded",
        )
        copies = receiver.delivered()
        assert len(copies) >= 2  # at least once: the receiver de-duplicates on webhook-id
        [(msg_id,)] = rows(db, "SELECT msg_id FROM events_event")
        assert {c.headers["webhook-id"] for c in copies} == {msg_id}
        for copy in copies:
            assert Webhook(secret).verify(copy.body, copy.headers)["type"] == "quota.low"
        assert json.loads(copies[-1].body)["data"] == {"id": 1, "carrier": "ZTO", "balance": 9}
        [(attempts,)] = rows(db, "SELECT attempts FROM events_delivery")
        assert attempts == 1  # the killed attempt left no record; the second was recorded
    db.close()
