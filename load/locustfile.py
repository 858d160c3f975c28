"""Mixed merchant API traffic at a constant rate per user (started by ``python -m load``).

Configured through the environment (the runner sets it):

* ``LOAD_TOKEN``: the shop's API token; ``LOAD_SUBSCRIPTION``: the subscription id;
* ``LOAD_ORDER_FIRST`` / ``LOAD_ORDER_LAST``: the paid orders to allocate (consecutive ids);
* ``LOAD_USER_RATE``: requests per second per user (``constant_throughput``);
* ``LOAD_MAX_REQUESTS``: stop after this many requests (0: only ``--run-time``);
* ``LOAD_BATCH_SIZE``: orders per ``POST waybills/batch/``;
* ``LOAD_SUMMARY``: where to write the JSON summary (stats, outcomes, numbers).

Expected refusals are successes: ``409 CANCEL_LIMIT_REACHED`` on a cancel (the cap), a
``409`` on the label of a number another user has just cancelled.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter

import gevent
from locust import FastHttpUser, constant_throughput, events, task

from load import NAMES, WEIGHTS

TOKEN = os.environ.get("LOAD_TOKEN", "")
SUBSCRIPTION = int(os.environ.get("LOAD_SUBSCRIPTION", "0"))
ORDER_FIRST = int(os.environ.get("LOAD_ORDER_FIRST", "0"))
ORDER_LAST = int(os.environ.get("LOAD_ORDER_LAST", "-1"))
USER_RATE = float(os.environ.get("LOAD_USER_RATE", "1"))
MAX_REQUESTS = int(os.environ.get("LOAD_MAX_REQUESTS", "0"))
BATCH_SIZE = int(os.environ.get("LOAD_BATCH_SIZE", "20"))
SUMMARY = os.environ.get("LOAD_SUMMARY", "")

# Shared by every user of this process (greenlets: no locks needed).
_orders = iter(range(ORDER_FIRST, ORDER_LAST + 1))
_live: list[str] = []  # numbers allocated here and not cancelled: labels and cancels
_cancelled: set[str] = set()
_allocated: list[str] = []  # every number answered 201
_done_orders: list[int] = []
_outcomes: Counter = Counter()  # (task, status, code) -> n
_state = {"requests": 0, "capped": False, "started": None, "stopped": None, "exhausted": 0}


def _next_orders(n: int) -> list[int]:
    out = []
    for order_id in _orders:
        out.append(order_id)
        if len(out) == n:
            break
    return out


def _code(response) -> str:
    try:
        return (response.json() or {}).get("code", "")
    except Exception:
        return ""


class Merchant(FastHttpUser):
    wait_time = constant_throughput(USER_RATE)
    network_timeout = 60.0
    connection_timeout = 10.0

    def on_start(self):
        self.headers = {
            "Authorization": f"Token {TOKEN}",
            "Accept": "application/json",
            "Accept-Language": "en",
        }

    def _record(self, kind: str, response, expected: bool, note: str = "") -> None:
        status = response.status_code
        code = _code(response) if status >= 400 else ""
        _outcomes[(kind, status, f"{code} ({note})" if note else code)] += 1
        if expected:
            response.success()
        else:
            body = (response.text or "")[:200] if status else str(response.error)[:200]
            response.failure(f"{status} {code or body}")

    @task(WEIGHTS["allocate"])
    def allocate(self):
        picked = _next_orders(1)
        if not picked:  # every order has its number: ask again for one (answers 200)
            _state["exhausted"] += 1
            picked = [random.choice(_done_orders)] if _done_orders else []
            if not picked:
                return
        order_id = picked[0]
        with self.client.post(
            "/api/v1/waybills/",
            json={"order": order_id, "subscription": SUBSCRIPTION},
            headers={**self.headers, "Idempotency-Key": f"load-{order_id}"},
            name=NAMES["allocate"],
            catch_response=True,
        ) as response:
            ok = response.status_code in (200, 201)
            self._record("allocate", response, ok)
            if response.status_code == 201:
                number = response.json()["waybill_no"]
                _allocated.append(number)
                _live.append(number)
                _done_orders.append(order_id)

    @task(WEIGHTS["orders"])
    def orders(self):
        page = random.choice((1, 1, 1, 2, 3))
        with self.client.get(
            f"/api/v1/orders/?status=paid&page={page}",
            headers=self.headers,
            name=NAMES["orders"],
            catch_response=True,
        ) as response:
            self._record("orders", response, response.status_code == 200)

    @task(WEIGHTS["label"])
    def label(self):
        if not _live:
            return self.allocate()
        number = random.choice(_live[-500:])
        with self.client.get(
            f"/api/v1/waybills/{number}/label/?format=pdf",
            headers=self.headers,
            name=NAMES["label"],
            catch_response=True,
        ) as response:
            ok = response.status_code == 200 and response.content[:4] == b"%PDF"
            # cancelled by another user while this request was on its way
            raced = response.status_code == 409 and number in _cancelled
            self._record("label", response, ok or raced, "cancelled meanwhile" if raced else "")

    @task(WEIGHTS["cancel"])
    def cancel(self):
        if not _live:
            return self.allocate()
        number = _live.pop(random.randrange(len(_live)))
        with self.client.post(
            f"/api/v1/waybills/{number}/cancel/",
            headers=self.headers,
            name=NAMES["cancel"],
            catch_response=True,
        ) as response:
            if response.status_code == 200:
                _cancelled.add(number)
                self._record("cancel", response, True)
            else:
                _live.append(number)  # still allocated
                capped = response.status_code == 409 and _code(response) == "CANCEL_LIMIT_REACHED"
                self._record("cancel", response, capped)

    @task(WEIGHTS["batch"])
    def batch(self):
        picked = _next_orders(BATCH_SIZE)
        if not picked:
            return self.allocate()
        with self.client.post(
            "/api/v1/waybills/batch/",
            json={"orders": picked, "subscription": SUBSCRIPTION},
            headers={**self.headers, "Idempotency-Key": f"load-batch-{picked[0]}"},
            name=NAMES["batch"],
            catch_response=True,
        ) as response:
            self._record("batch", response, response.status_code == 202)


@events.request.add_listener
def _count(**_kwargs):
    _state["requests"] += 1
    if MAX_REQUESTS and _state["requests"] >= MAX_REQUESTS and not _state["capped"]:
        _state["capped"] = True
        runner = _env.get("environment") and _env["environment"].runner
        if runner is not None:
            gevent.spawn(runner.quit)


_env: dict = {}


@events.init.add_listener
def _init(environment, **_kwargs):
    _env["environment"] = environment


@events.test_start.add_listener
def _start(**_kwargs):
    _state["started"] = time.time()


@events.test_stopping.add_listener
def _stop(**_kwargs):
    # arrivals end here (run time or request cap); requests in flight still finish and
    # count, but they were sent inside the window
    _state["stopped"] = _state["stopped"] or time.time()


@events.quitting.add_listener
def _write_summary(environment, **_kwargs):
    if not SUMMARY:
        return
    stopped = _state["stopped"] or time.time()
    entries = []
    for (name, method), entry in sorted(environment.stats.entries.items()):
        entries.append(
            {
                "name": name,
                "method": method,
                "requests": entry.num_requests,
                "failures": entry.num_failures,
                "p50": entry.get_response_time_percentile(0.50),
                "p95": entry.get_response_time_percentile(0.95),
                "p99": entry.get_response_time_percentile(0.99),
                "max": entry.max_response_time,
                "avg": entry.avg_response_time,
            }
        )
    total = environment.stats.total
    summary = {
        "seconds": stopped - (_state["started"] or stopped),
        "entries": entries,
        "total": {
            "requests": total.num_requests,
            "failures": total.num_failures,
            "p50": total.get_response_time_percentile(0.50),
            "p95": total.get_response_time_percentile(0.95),
            "p99": total.get_response_time_percentile(0.99),
            "max": total.max_response_time,
        },
        "errors": [
            {"name": e.name, "method": e.method, "error": str(e.error), "count": e.occurrences}
            for e in environment.stats.errors.values()
        ],
        "outcomes": [
            {"task": kind, "status": status, "code": code, "count": n}
            for (kind, status, code), n in sorted(_outcomes.items())
        ],
        "allocated": _allocated,
        "cancelled": sorted(_cancelled),
        "capped": _state["capped"],
        "orders_exhausted": _state["exhausted"],
        "weights": WEIGHTS,
        "names": NAMES,
    }
    with open(SUMMARY, "w") as f:
        json.dump(summary, f)
