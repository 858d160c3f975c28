"""Webhook tests: a local receiver, loopback allowed for it, and a worker on the events queue."""

from __future__ import annotations

import pytest
from celery.contrib.testing.worker import start_worker

from tests.fakes.webhook_receiver import WebhookReceiver
from waybill_console.celery import app


@pytest.fixture
def receiver(settings):
    """A receiver on 127.0.0.1, which the operator allowed (WEBHOOK_ALLOWED_NETWORKS)."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    with WebhookReceiver() as r:
        yield r


@pytest.fixture
def events_worker(settings):
    """A real Celery worker consuming the events queue (threads: the test's database)."""
    settings.WEBHOOK_RETRY_SCHEDULE = [1, 1, 1]
    with start_worker(
        app,
        pool="threads",
        concurrency=2,
        queues=["events"],
        perform_ping_check=False,
        shutdown_timeout=10,
    ):
        yield
