"""The gateway protocol: what the engine asks of a carrier, whoever answers it.

Real carrier APIs issue a number per order package, given the sender, the receiver and
the items, over a slow and unreliable network, and answer with routing and print data;
they know each package by the id we give it (``carrier_order_id``), so asking again with
it returns the number already issued. The engine therefore:

* screens (筛单) before it charges anything: :meth:`CarrierGateway.screen`;
* reserves the quota, then :meth:`CarrierGateway.issue` (or ``issue_many``) with the
  reservation's carrier-side order id, outside any transaction;
* on an answer it commits; on a definite refusal it releases; on an unknown outcome
  (:attr:`AppError.outcome_unknown`, e.g. a time-out after the request was sent) it keeps
  the reservation, and a later retry or the settling sweep asks again
  (:meth:`CarrierGateway.query`, or ``issue`` with the same id), never for a second number.

Errors are :mod:`carriers.errors` classes with stable codes and the carriers' own texts;
an adapter maps its carrier's answers onto them (karrio-style: pure mapping plus I/O).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Receiver:
    province: str
    city: str
    district: str
    #: None when the street is sealed (an order's ciphertext): screening then works on the
    #: division, which intake already validated together with the street
    detail: str | None
    name: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class ScreenResult:
    """What a label needs: the sort code (三段码), package centre (集包地), short address
    (大头笔)."""

    sort_code: str
    package_center_code: str
    package_center_name: str
    short_address_code: str
    short_address_name: str
    region_code: str
    services: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class IssueRequest:
    """One order package as the carrier is asked to ship it."""

    carrier_order_id: str
    subscription: Any
    sender: dict
    receiver: Receiver
    items: list = field(default_factory=list)
    weight_grams: int | None = None
    package_count: int = 1  # 子母件: the parent and its sub numbers
    services: list[str] = field(default_factory=list)
    #: the screening already made for this package (the routing when the carrier gives none)
    screen: ScreenResult | None = None
    #: the receiver's name, phone and street in full (``{"name", "phone", "detail"}``), for
    #: an adapter that sends them to the carrier: each call decrypts and is audited
    reveal_receiver: Callable[[], dict] | None = None


@dataclass(frozen=True)
class Issued:
    """The carrier's answer for one order package."""

    carrier_order_id: str
    numbers: list[str]  # the parent first
    routing: ScreenResult | None = None  # None: the screening result stands
    print_data: dict = field(default_factory=dict)  # carrier-specific (e.g. SF's 丰密 QR)


class CarrierGateway(Protocol):
    def screen(
        self, *, subscription, receiver: Receiver, services: list[str] | None = None
    ) -> ScreenResult: ...

    def issue(self, request: IssueRequest) -> Issued: ...

    def issue_many(self, requests: list[IssueRequest]) -> list[Issued | Exception]:
        """One answer (or the error) per request, in order."""
        ...

    def query(self, *, subscription, carrier_order_id: str) -> Issued | None:
        """What the carrier issued for this id (None: nothing)."""
        ...

    # Optional: ``settle(request) -> Issued | None`` for carriers that cannot be queried but
    # answer a replay of the same carrier-side order id with the first result (Kuaidi100's
    # ``reorder=false``): the settling sweep then asks again with the whole request.

    #: True when one cancel at the carrier cancels every number issued under the carrier-side
    #: order id, not only the number named (SF cancels by ``orderId``: all numbers of a 子母件
    #: at once). The engine then cancels such numbers all together or not at all, with one
    #: call (:func:`cancels_whole_order`, :func:`cancel_calls`); False for the others.
    cancels_whole_order: bool

    def cancel(self, *, subscription, waybill_no: str, carrier_order_id: str = "") -> None: ...


def cancels_whole_order(gateway) -> bool:
    """Whether a cancel at this gateway's carrier takes every number of the carrier-side
    order with it (a gateway that does not say cancels one number)."""
    return bool(getattr(gateway, "cancels_whole_order", False))


def cancel_calls(gateway, waybill_nos: list[str]) -> list[str]:
    """The numbers to name in cancel calls for ``waybill_nos``, all issued under one
    carrier-side order id: the first only where one cancel takes the whole order, else
    each of them."""
    return waybill_nos[:1] if cancels_whole_order(gateway) else list(waybill_nos)


def issue_each(gateway, requests: list[IssueRequest]) -> list[Issued | Exception]:
    """``issue_many`` for gateways that can only ask one package at a time."""
    from waybill_console.errors import AppError

    answers: list[Issued | Exception] = []
    for request in requests:
        try:
            answers.append(gateway.issue(request))
        except AppError as err:
            answers.append(err)
    return answers


def issue_concurrently(gateway, requests: list[IssueRequest], *, prefix: str) -> list:
    """``issue_many`` for carriers asked one package per call over the network: up to
    ``CARRIER_CONCURRENCY`` calls in flight at once (a 500-order batch must not take 500 ×
    the carrier's latency), answers (or errors) in the requests' order. Each worker thread
    takes the next request until none is left, then closes its own database connection
    (the call log and the audited receiver use it)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from django.conf import settings
    from django.db import connections

    workers = max(1, min(settings.CARRIER_CONCURRENCY, len(requests)))
    if workers <= 1:
        return issue_each(gateway, requests)
    answers: list = [None] * len(requests)
    todo = iter(enumerate(requests))
    lock = threading.Lock()

    def worker() -> None:
        from waybill_console.errors import AppError

        try:
            while True:
                with lock:
                    taken = next(todo, None)
                if taken is None:
                    return
                index, request = taken
                try:
                    answers[index] = gateway.issue(request)
                except AppError as err:
                    answers[index] = err
        finally:
            connections.close_all()  # this thread's own

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=prefix) as pool:
        for future in [pool.submit(worker) for _ in range(workers)]:
            future.result()  # a bug in a worker is raised here, in the caller's thread
    return answers
