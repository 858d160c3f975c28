"""A Celery worker killed (SIGKILL, its pool with it) in the middle of a 500-order batch
allocation: once a new worker runs, the batch finishes; no order gets two numbers and
none is lost.

With ``acks_late`` the killed worker's message stays unacknowledged in Redis until the
broker's visibility timeout (an hour); the beat sweep ``requeue_stalled_jobs`` sees the
job running with nobody holding its lock and sends its task again at once."""

from __future__ import annotations

from tests.faults.helpers import fault_orders, job, live_numbers, rows, subscription, wait_job
from tests.faults.servers import wait_for

ORDERS = 500
HELD = 120  # an order of the third chunk of 50: the worker stops inside that chunk


def test_batch_allocation_finishes_after_its_worker_is_killed_mid_way(app):
    db = app.db()
    order_ids = fault_orders(db, ORDERS)
    sub_id, balance = subscription(db)
    assert len(order_ids) == ORDERS and balance >= ORDERS
    app.start_worker("worker-1")

    # the test holds one order's row: the worker blocks in the third chunk's transaction,
    # after two chunks (100 orders) were committed and recorded
    holder = app.db()
    holder.autocommit = False
    holder.cursor().execute(
        "SELECT id FROM shops_order WHERE id = %s FOR UPDATE", [order_ids[HELD]]
    )
    started = app.api(app.token).post(
        f"{app.base}/api/v1/waybills/batch/",
        json={"orders": order_ids, "subscription": sub_id},
        timeout=30,
    )
    assert started.status_code == 202, started.text
    job_id = started.json()["id"]
    wait_for(
        lambda: rows(
            db,
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
            [app.dbname],
        ),
        timeout=60,
        what="the worker to block on the held order",
    )
    assert job(db, job_id) == {"status": "running", "done": 100, "total": 500, "attempts": 1}
    assert len(live_numbers(db, order_ids)) == 100

    app.kill("worker-1")
    holder.rollback()  # the killed worker's open transaction can only roll back now
    holder.close()
    app.start_worker("worker-2")
    body = wait_job(app, app.token, job_id, timeout=90)

    assert body["status"] == "succeeded", body
    assert (body["result"]["ok"], body["result"]["failed"], body["done"]) == (500, 0, 500)
    assert job(db, job_id)["attempts"] == 2
    numbers = live_numbers(db, order_ids)
    assert [order for order, _ in numbers] == order_ids  # each order exactly one number
    assert len({number for _, number in numbers}) == ORDERS  # no number given twice
    reported = {r["order"]: r["waybill_no"] for r in body["result"]["results"]}
    assert reported == dict(numbers)
    [(all_waybills,)] = rows(
        db, "SELECT count(*) FROM waybills_waybill WHERE order_id = ANY(%s)", [order_ids]
    )
    assert all_waybills == ORDERS  # nothing left over from the rolled-back chunk
    assert subscription(db) == (sub_id, balance - ORDERS)
    assert app.ledger_check() == "[]"
    assert f"stalled jobs [{job_id}]" in app.log("worker-2")
    db.close()
