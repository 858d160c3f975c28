"""Redis (broker, cache, rate-limit counters) stopped and started while the app runs.

During the outage the pages and the synchronous API that need only PostgreSQL keep
working (the rate limit fails open and says so in the log); what needs Redis answers a
clean 503 (the login, whose failure counter lives in Redis, fails closed; the health
check names what is down); nothing hangs. Work queued before the stop survives it (Redis
is append-only), a job recorded during the outage stays queued in PostgreSQL, and all of
it completes once Redis is back, with the same worker, never restarted."""

from __future__ import annotations

import time

import requests

from tests.faults.helpers import fault_orders, live_numbers, rows, subscription, wait_job
from tests.faults.servers import wait_for

BATCH = 50
TIMEOUT = 10  # seconds: a request during the outage answers well within this, or hangs
OUTAGE = 8  # seconds Redis stays down


def _batch(app, api, order_ids, sub_id) -> int:
    response = api.post(
        f"{app.base}/api/v1/waybills/batch/",
        json={"orders": order_ids, "subscription": sub_id},
        timeout=TIMEOUT,
    )
    assert response.status_code == 202, response.text
    return response.json()["id"]


def _service_unavailable(response: requests.Response) -> None:
    assert response.status_code == 503, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message", "detail"} and body["code"] == "SERVICE_UNAVAILABLE"


def test_redis_stopped_and_started_while_the_app_runs(app, redis_server):
    db = app.db()
    sub_id, balance = subscription(db)
    first, queued, during = (fault_orders(db, BATCH, offset=BATCH * i) for i in range(3))
    [single] = fault_orders(db, 1, offset=BATCH * 3)
    api = app.api(app.token)
    browser = app.browser("merchant")  # logged in before the outage
    app.start_worker()

    # the worker is busy with the first job (held on one of its orders, inside a chunk's
    # transaction); the second waits in Redis, behind it
    holder = app.db()
    holder.autocommit = False
    holder.cursor().execute("SELECT id FROM shops_order WHERE id = %s FOR UPDATE", [first[10]])
    first_job = _batch(app, api, first, sub_id)
    wait_for(
        lambda: rows(
            db,
            "SELECT 1 FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
            [app.dbname],
        ),
        timeout=60,
        what="the worker to block on the held order",
    )
    queued_job = _batch(app, api, queued, sub_id)

    redis_server.stop()
    started = time.monotonic()

    # the synchronous API that needs only PostgreSQL works (the rate limit fails open)
    listed = api.get(f"{app.base}/api/v1/waybills/", timeout=TIMEOUT)
    assert listed.status_code == 200, listed.text[:300]
    allocated = api.post(
        f"{app.base}/api/v1/waybills/",
        json={"order": single, "subscription": sub_id},
        headers={"Idempotency-Key": "redis-outage-1"},
        timeout=TIMEOUT,
    )
    assert allocated.status_code == 201, allocated.text[:300]
    status = api.get(f"{app.base}/api/v1/jobs/{queued_job}/", timeout=TIMEOUT)
    assert status.status_code == 200 and status.json()["status"] == "queued"
    # a job recorded during the outage: accepted, kept in PostgreSQL until Redis is back
    during_job = _batch(app, api, during, sub_id)

    # pages: a logged-in user keeps working (sessions live in PostgreSQL)
    for path in ("/console/", "/console/orders/"):
        page = browser.get(f"{app.base}{path}", timeout=TIMEOUT, allow_redirects=False)
        assert page.status_code == 200, (path, page.status_code)

    # what needs Redis: a clean 503, never a 500 page
    health = requests.get(f"{app.base}/healthz", timeout=TIMEOUT)
    assert health.status_code == 503
    assert health.json() == {"database": "ok", "redis": "unavailable", "worker_heartbeat": None}
    login = requests.Session()
    login.get(f"{app.base}/accounts/login/", timeout=TIMEOUT)
    refused = login.post(
        f"{app.base}/accounts/login/",
        data={
            "username": "merchant",
            "password": "waybill-demo",
            "csrfmiddlewaretoken": login.cookies["csrftoken"],
        },
        headers={"Referer": f"{app.base}/accounts/login/", "Accept-Language": "en"},
        timeout=TIMEOUT,
        allow_redirects=False,
    )
    assert refused.status_code == 503 and "temporarily unavailable" in refused.text
    assert "sessionid" not in login.cookies
    _service_unavailable(
        login.post(
            f"{app.base}/accounts/login/",
            data={"username": "merchant", "csrfmiddlewaretoken": login.cookies["csrftoken"]},
            headers={"Referer": f"{app.base}/accounts/login/", "Accept": "application/json"},
            timeout=TIMEOUT,
        )
    )
    assert time.monotonic() - started < 30  # nothing waited on Redis
    # long enough for the worker's and beat's reconnection attempts to fail a few times
    time.sleep(max(0.0, OUTAGE - (time.monotonic() - started)))

    redis_server.start()
    holder.rollback()
    holder.close()

    for job_id in (first_job, queued_job, during_job):
        body = wait_job(app, app.token, job_id, timeout=90)
        assert body["status"] == "succeeded" and body["result"]["ok"] == BATCH, body
    orders = first + queued + during + [single]
    numbers = live_numbers(db, orders)
    assert [order for order, _ in numbers] == sorted(orders)  # each exactly one number
    assert len({number for _, number in numbers}) == len(orders)
    assert subscription(db) == (sub_id, balance - len(orders))
    assert app.ledger_check() == "[]"
    assert app.browser("merchant").get(f"{app.base}/console/", timeout=TIMEOUT).ok
    assert requests.get(f"{app.base}/healthz", timeout=TIMEOUT).json()["redis"] == "ok"
    db.close()
