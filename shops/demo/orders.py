"""Demo orders: realistic receivers (:mod:`~shops.demo.receivers`), products
(:mod:`~shops.demo.catalogue`) and lifecycles (:mod:`~shops.demo.lifecycle`), fast enough
for 200,000 orders.

Used by ``manage.py seed_demo --orders N`` and by the benchmark (``python -m bench``).

* Every order is built by :func:`~shops.services.order_intake.order_build` (masked receiver,
  blind index of the phone), then given the timestamps of a simulated lifecycle
  (paid, printed, shipped, picked up, in transit, delivered or failed, cancelled) and
  its ``sla_due_at`` from :func:`~shops.services.order_states.sla_next_due`.
* Receivers come from a pool (up to 2,000) encrypted once; their Fernet tokens are
  reused as :class:`~waybill_console.crypto.Sealed` values instead of encrypting
  every order again.
* Rows are written with ``bulk_create`` in batches of 5,000, one transaction a batch:
  orders, their items and one "created" event each.
* Order numbers are ``DEMO`` + a running number after the shop's highest one, so a
  second run adds new orders. Two runs for the same shop at the same moment would
  collide on ``(shop, order_no)`` and the later batch would fail.

The data is a function of ``seed``, the shop and the first order number: the same call
gives the same orders, a second run gives different ones.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from django.db import models, transaction
from django.db.models.functions import Cast, Substr
from django.utils import timezone

from shops.demo.catalogue import (
    BUYER_NOTES,
    ITEM_COUNT_WEIGHTS,
    PRODUCTS,
    QUANTITY_WEIGHTS,
    demo_products_create,
)
from shops.demo.lifecycle import Lifecycle
from shops.demo.picker import Picker
from shops.demo.receivers import RECEIVER_POOL, REMOTE_PROVINCES, receiver_pool
from shops.models import AfterSaleStatus, Order, OrderEvent, OrderItem, OrderStatus, Shop
from shops.services.order_intake import OrderInput, order_build
from shops.services.order_states import sla_next_due

S = OrderStatus
BATCH_SIZE = 5000
ORDER_NO_PREFIX = "DEMO"
#: the backlog waiting to be shipped, in percent of the orders seeded, and at least
BACKLOG_SHARE = 5
BACKLOG_MIN = 6


def _next_order_number(shop: Shop) -> int:
    last = (
        Order.objects.filter(shop=shop, order_no__regex=rf"^{ORDER_NO_PREFIX}[0-9]{{1,18}}$")
        .annotate(n=Cast(Substr("order_no", len(ORDER_NO_PREFIX) + 1), models.BigIntegerField()))
        .aggregate(m=models.Max("n"))["m"]
    )
    return (last or 0) + 1


def demo_orders_create(
    *,
    shop: Shop,
    count: int,
    now: datetime | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Add ``count`` demo orders (with items and a "created" event) to ``shop``.

    Also creates the catalogue's products. ``progress(done, count)`` is called after
    each batch. Returns the number of orders created.
    """
    if count <= 0:
        return 0
    now = now or timezone.now()
    first_no = _next_order_number(shop)
    rng = random.Random(f"orders:{seed}:{first_no}")
    demo_products_create(shop=shop, seed=seed)

    pool = receiver_pool(rng, min(RECEIVER_POOL, max(count, 50)))
    catalogue = [
        {"sku": sku, "product_name": name, "spec": spec, "unit_price": Decimal(price)}
        for sku, name, spec, price, _pop in PRODUCTS
    ]
    product = Picker(range(len(catalogue)), [p[4] for p in PRODUCTS])
    item_count = Picker([1, 2, 3, 4], ITEM_COUNT_WEIGHTS)
    quantity = Picker([1, 2, 3, 5], QUANTITY_WEIGHTS)
    life = Lifecycle(rng, now, shop.no_source_risk)
    # a backlog that does not depend on the clock: some orders always wait to be shipped
    backlog_size = min(count, max(BACKLOG_MIN, count * BACKLOG_SHARE // 100))
    waiting = set(rng.sample(range(count), backlog_size))

    created = 0
    while created < count:
        size = min(BATCH_SIZE, count - created)
        orders, order_items = [], []
        for i in range(size):
            # every run's first order goes to the example receiver (张三 13812345678)
            pick = 0 if created + i == 0 else rng.randrange(len(pool))
            rec, code, name_token, phone_token, detail_token = pool[pick]
            picked: list[int] = []
            for _ in range(item_count(rng)):
                p = product(rng)
                if p not in picked:
                    picked.append(p)
            items = [{**catalogue[p], "quantity": quantity(rng)} for p in picked]
            backlog = created + i in waiting
            if backlog:
                fields = life.waiting()
            else:
                fields = life.draw(life.created_at(), code in REMOTE_PROVINCES)
            status = fields.pop("status")
            order = order_build(
                shop=shop,
                data=OrderInput(
                    order_no=f"{ORDER_NO_PREFIX}{first_no + created + i:08d}",
                    items=items,
                    receiver=rec,
                    status=status,
                    paid_at=fields.pop("paid_at", None),
                    created_at=fields.pop("created_at"),
                    buyer_note=rng.choice(BUYER_NOTES) if rng.random() < 0.12 else "",
                ),
                now=now,
            )
            order.receiver_name, order.receiver_phone = name_token, phone_token
            order.receiver_detail = detail_token
            for key, value in fields.items():
                setattr(order, key, value)
            order.is_dropship = rng.random() < 0.1
            if status not in (S.UNPAID, S.CANCELLED) and not backlog:
                roll = rng.random()
                if roll < 0.055:
                    order.after_sale_status = AfterSaleStatus.IN_PROGRESS
                elif roll < 0.09 and status == S.DELIVERED:
                    order.after_sale_status = AfterSaleStatus.CLOSED
            order.sla_due_at = sla_next_due(order)
            orders.append(order)
            order_items.append(items)
        with transaction.atomic():
            Order.objects.bulk_create(orders, batch_size=BATCH_SIZE)
            OrderItem.objects.bulk_create(
                (
                    OrderItem(order_id=order.pk, **item)
                    for order, items in zip(orders, order_items, strict=True)
                    for item in items
                ),
                batch_size=BATCH_SIZE * 2,
            )
            OrderEvent.objects.bulk_create(
                (
                    OrderEvent(
                        order_id=order.pk,
                        at=order.created_at,
                        kind="created",
                        actor="demo",
                        data={"status": S.UNPAID if order.paid_at is None else S.PAID},
                    )
                    for order in orders
                ),
                batch_size=BATCH_SIZE,
            )
        created += size
        if progress:
            progress(created, count)
    return created
