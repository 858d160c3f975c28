"""A crash and a time-out between reserving the quota and committing the number.

* The worker's process dies right after the carrier (the sandbox) issued the first chunk's
  numbers, before they were committed: once the job runs again, those packages continue
  their open reservations with the same carrier-side order ids and get the numbers the
  carrier issued, never a second one; the quota is charged once.
* The carrier's answer is lost (a time-out after it issued the number): the request fails
  with ALLOCATION_TIMEOUT and the quota stays held; the settling sweep (beat, a real worker)
  asks the carrier and commits the number it issued. When the carrier never heard of it,
  the sweep gives the quota back.
* A worker killed (SIGKILL) mid-batch against a slow real-protocol carrier (the Kuaidi100
  stand-in: real HTTP, signatures checked, 0.3 s an order, the number issued before the
  answer is sent): calls are in flight when it dies, some issued with their answer never
  read. The job resumes on a new worker; the packages left open ask again with the same
  carrier-side order id and get the first number (a replay): one number per order at the
  carrier and on the order, charged once, the ledger clean.
"""

from __future__ import annotations

import json

from tests.fakes.kuaidi100 import SECRET, FakeKuaidi100
from tests.faults.helpers import fault_orders, job, live_numbers, rows, subscription, wait_job
from tests.faults.servers import wait_for

APP_ENV = {"RESERVATION_SETTLE_AFTER_SECONDS": "1"}
ORDERS = 120
CARRIER_ORDERS = 100
KILL_AFTER = 60  # calls seen by the carrier: inside the second chunk of 50


def _sandbox_numbers(db, order_ids: list[int]) -> dict[int, list[str]]:
    """What the sandbox carrier recorded, by order (through the reservations' ids)."""
    found = rows(
        db,
        "SELECT r.order_id, s.numbers FROM carriers_reservation r "
        "JOIN carriers_sandboxshipment s ON s.carrier_order_id = r.carrier_order_id "
        "WHERE r.order_id = ANY(%s)",
        [order_ids],
    )
    by_order: dict[int, list[str]] = {}
    for order_id, numbers in found:
        by_order.setdefault(order_id, []).append(
            numbers if isinstance(numbers, list) else json.loads(numbers)
        )
    return by_order


def _branch_fault(db, sub_id: int, fault: str) -> None:
    with db.cursor() as cur:
        cur.execute(
            "UPDATE carriers_branch SET fault = %s WHERE id = "
            "(SELECT branch_id FROM carriers_subscription WHERE id = %s)",
            [fault, sub_id],
        )


def test_worker_dies_after_the_carrier_issued_and_the_retry_gets_the_same_numbers(app, tmp_path):
    db = app.db()
    db.autocommit = True
    order_ids = fault_orders(db, ORDERS)
    sub_id, balance = subscription(db)
    marker = tmp_path / "crashed"
    app.env["WBC_SANDBOX_CRASH_AFTER_ISSUE"] = str(marker)
    app.start_worker("worker-crash")
    del app.env["WBC_SANDBOX_CRASH_AFTER_ISSUE"]

    started = app.api(app.token).post(
        f"{app.base}/api/v1/waybills/batch/",
        json={"orders": order_ids, "subscription": sub_id},
        timeout=30,
    )
    assert started.status_code == 202, started.text
    job_id = started.json()["id"]
    wait_for(marker.exists, timeout=60, what="the worker to crash after the first issue")
    body = wait_job(app, app.token, job_id, timeout=120)

    assert body["status"] == "succeeded", body
    assert (body["result"]["ok"], body["result"]["failed"]) == (ORDERS, 0)
    assert job(db, job_id)["attempts"] >= 2  # it ran again after the crash
    numbers = live_numbers(db, order_ids)
    assert [order for order, _ in numbers] == order_ids  # each order exactly one number
    issued = _sandbox_numbers(db, order_ids)
    # the carrier was asked once per order (the crashed chunk's packages were asked again
    # with the same carrier-side order id: a replay, not a second number)
    assert all(len(v) == 1 for v in issued.values()) and len(issued) == ORDERS
    assert dict(numbers) == {order: v[0][0] for order, v in issued.items()}
    [(shipments,)] = rows(db, "SELECT count(*) FROM carriers_sandboxshipment")
    assert shipments == ORDERS
    [(open_,)] = rows(db, "SELECT count(*) FROM carriers_reservation WHERE state = 'reserved'")
    assert open_ == 0
    assert subscription(db) == (sub_id, balance - ORDERS)  # charged once per number
    assert app.ledger_check() == "[]"
    app.stop("worker-crash")
    db.close()


def test_a_lost_answer_is_settled_by_the_sweep_with_the_number_the_carrier_issued(app):
    db = app.db()
    db.autocommit = True
    [order_id] = fault_orders(db, 1, offset=ORDERS + 5)
    [lost] = fault_orders(db, 1, offset=ORDERS + 6)
    sub_id, balance = subscription(db)
    app.start_worker("worker-settle")
    api = app.api(app.token)

    _branch_fault(db, sub_id, "lost_answer")
    answer = api.post(
        f"{app.base}/api/v1/waybills/", json={"order": order_id, "subscription": sub_id}, timeout=30
    )
    _branch_fault(db, sub_id, "unsent_timeout")
    unsent = api.post(
        f"{app.base}/api/v1/waybills/", json={"order": lost, "subscription": sub_id}, timeout=30
    )
    _branch_fault(db, sub_id, "")
    assert answer.status_code == 504 and answer.json()["code"] == "ALLOCATION_TIMEOUT"
    assert unsent.status_code == 504 and unsent.json()["code"] == "ALLOCATION_TIMEOUT"

    def settled():
        states = rows(
            db,
            "SELECT order_id, state FROM carriers_reservation WHERE order_id = ANY(%s)",
            [[order_id, lost]],
        )
        return dict(states) if all(s != "reserved" for _, s in states) else None

    states = wait_for(settled, timeout=60, what="the sweep to settle both reservations")
    assert states == {order_id: "committed", lost: "released"}
    [[number]] = _sandbox_numbers(db, [order_id])[order_id]
    assert live_numbers(db, [order_id, lost]) == [(order_id, number)]
    [(mark,)] = rows(db, "SELECT tracking_no FROM shops_order WHERE id = %s", [order_id])
    assert mark == number
    # one number charged (the committed one); the one the carrier never issued came back
    assert subscription(db) == (sub_id, balance - 1)
    [(released,)] = rows(
        db,
        "SELECT count(*) FROM carriers_ledgerentry WHERE subscription_id = %s AND kind = 'release'",
        [sub_id],
    )
    assert released == 1
    assert app.ledger_check() == "[]"
    app.stop("worker-settle")
    db.close()


def test_worker_killed_mid_batch_against_a_slow_carrier_resumes_without_a_second_number(app):
    fake = FakeKuaidi100().start()
    fake.delay = 0.3
    db = app.db()
    db.autocommit = True
    try:
        order_ids = fault_orders(db, CARRIER_ORDERS, offset=200)
        sub_id, balance = subscription(db)
        app.manage(
            "carrier_gateway", "ZTO", "--use", "kuaidi100", "--key", fake.key,
            "--secret", SECRET, "--url", f"{fake.url}/label/order",
            "--poll-url", f"{fake.url}/poll",
        )  # fmt: skip
        app.manage(
            "shell",
            "-c",
            "from carriers.models import Subscription as S; s = S.objects.get(pk="
            f"{sub_id}); s.monthly_account = 'P-FAULT'; s.secret_key = 'k-fault'; s.save()",
        )
        app.start_worker("worker-carrier-1")
        started = app.api(app.token).post(
            f"{app.base}/api/v1/waybills/batch/",
            json={"orders": order_ids, "subscription": sub_id},
            timeout=30,
        )
        assert started.status_code == 202, started.text
        job_id = started.json()["id"]
        wait_for(
            lambda: len(fake.calls("order")) >= KILL_AFTER,
            timeout=60,
            what="the carrier to be in the middle of the batch",
        )
        app.kill("worker-carrier-1")
        asked_before = {c["param"]["orderId"] for c in fake.calls("order")}
        [(open_,)] = rows(db, "SELECT count(*) FROM carriers_reservation WHERE state = 'reserved'")
        assert open_ > 0  # calls were in flight: reservations left open by the crash
        app.start_worker("worker-carrier-2")
        body = wait_job(app, app.token, job_id, timeout=120)

        assert body["status"] == "succeeded", body
        assert (body["result"]["ok"], body["result"]["failed"]) == (CARRIER_ORDERS, 0)
        assert job(db, job_id)["attempts"] == 2
        numbers = dict(live_numbers(db, order_ids))
        assert sorted(numbers) == sorted(order_ids)  # each order exactly one number
        # the carrier issued one number per order: the interrupted packages were asked
        # again with the same order id and answered the first number
        issued = {o["kuaidinum"] for o in fake.orders.values()}
        assert len(fake.orders) == CARRIER_ORDERS and len(issued) == CARRIER_ORDERS
        assert set(numbers.values()) == issued
        replayed = {c["param"]["orderId"] for c in fake.calls("order")} & asked_before
        assert len(fake.calls("order")) > len(fake.orders) and replayed
        [(open_,)] = rows(db, "SELECT count(*) FROM carriers_reservation WHERE state = 'reserved'")
        assert open_ == 0
        assert subscription(db) == (sub_id, balance - CARRIER_ORDERS)  # charged once per number
        assert app.ledger_check() == "[]"
    finally:
        app.manage("carrier_gateway", "ZTO", "--use", "builtin")
        app.stop("worker-carrier-2")
        fake.stop()
        db.close()
