"""PostgreSQL stopped and started while the app runs (gunicorn, a Celery worker).

During the outage every request answers at once with a clean 503: the API's error object,
a short page for browsers, a health check that names the database. Once PostgreSQL is
back the same processes serve again, from the first request on (connections kept across
the restart are health-checked before reuse), and the worker runs a batch."""

from __future__ import annotations

import time

import requests

from tests.faults.helpers import fault_orders, live_numbers, subscription, wait_job

TIMEOUT = 10
BATCH = 20


def _service_unavailable(response: requests.Response) -> None:
    assert response.status_code == 503, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {
        "code": "SERVICE_UNAVAILABLE",
        "message": "The service is temporarily unavailable; please try again in a moment.",
        "detail": {},
    }


def _all_served(app, api, browser) -> None:
    """Enough requests to reach every gunicorn worker: all of them succeed."""
    for _ in range(8):
        listed = api.get(f"{app.base}/api/v1/waybills/", timeout=TIMEOUT)
        assert listed.status_code == 200, listed.text[:300]
        page = browser.get(f"{app.base}/console/", timeout=TIMEOUT)
        assert page.status_code == 200, page.status_code
    assert requests.get(f"{app.base}/healthz", timeout=TIMEOUT).status_code == 200


def test_postgres_stopped_and_started_while_the_app_runs(app, postgres):
    db = app.db()
    sub_id, balance = subscription(db)
    order_ids = fault_orders(db, BATCH, offset=600)
    db.close()
    api = app.api(app.token)
    browser = app.browser("merchant")
    app.start_worker()

    # a restart between two requests: every gunicorn worker holds a connection (kept 60 s)
    # that died with the server; it is checked before reuse, not failed on
    _all_served(app, api, browser)
    postgres.stop()
    postgres.start()
    _all_served(app, api, browser)

    postgres.stop()
    started = time.monotonic()
    for _ in range(4):  # each gunicorn worker, its kept connection now dead
        _service_unavailable(api.get(f"{app.base}/api/v1/waybills/", timeout=TIMEOUT))
    _service_unavailable(
        api.post(
            f"{app.base}/api/v1/waybills/batch/",
            json={"orders": order_ids, "subscription": sub_id},
            timeout=TIMEOUT,
        )
    )
    page = browser.get(f"{app.base}/console/orders/", timeout=TIMEOUT)
    assert page.status_code == 503 and page.headers["Content-Type"].startswith("text/html")
    assert "Temporarily unavailable" in page.text and len(page.text) < 2000
    health = requests.get(f"{app.base}/healthz", timeout=TIMEOUT)
    assert health.status_code == 503 and health.json()["database"] == "unavailable"
    assert time.monotonic() - started < 30  # nothing hung

    postgres.start()
    _all_served(app, api, browser)  # the same gunicorn, never restarted

    # and the worker, never restarted either, runs a batch
    started = api.post(
        f"{app.base}/api/v1/waybills/batch/",
        json={"orders": order_ids, "subscription": sub_id},
        timeout=TIMEOUT,
    )
    assert started.status_code == 202, started.text
    body = wait_job(app, app.token, started.json()["id"], timeout=60)
    assert body["status"] == "succeeded" and body["result"]["ok"] == BATCH, body
    db = app.db()
    assert [order for order, _ in live_numbers(db, order_ids)] == order_ids
    assert subscription(db) == (sub_id, balance - BATCH)
    db.close()
    assert app.ledger_check() == "[]"
