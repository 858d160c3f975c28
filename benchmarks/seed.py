"""Data the waybill-engine sections need, made quickly.

* the demo shops, branches and carriers (``seed_demo``, idempotent);
* an e-waybill service opened, approved and recharged through the carrier services
  (as ``tests/waybills/conftest.py`` does it);
* fresh *paid* orders, cloned in SQL (``INSERT … SELECT … generate_series``) from a few
  hundred demo orders whose receivers screen fine, so that 100,000 orders take seconds.
  Clones carry the template's receiver ciphertext, masks and division; they get a new
  order number (``BENCH…``), status paid, no waybill, no lifecycle timestamps, and no
  items (allocation never reads them).
"""

from __future__ import annotations

import itertools
import time

TEMPLATE_COUNT = 300
SENDER = {
    "contact_name": "王仓管",
    "phone": "13800001111",
    "province": "浙江省",
    "city": "杭州市",
    "district": "余杭区",
    "detail": "文一西路 1 号",
}
_address_seq = itertools.count(1)


def base() -> None:
    """The demo shops 100001/100002 with their logins, carriers and demo branches."""
    from django.core.management import call_command

    call_command("seed_demo", "--quiet")


def shop(shop_no: str):
    from shops.models import Shop

    return Shop.objects.get(shop_no=shop_no)


def extra_shop(index: int):
    """Another shop (the events section posts to one endpoint per shop)."""
    from shops.models import Shop

    return Shop.objects.get_or_create(
        shop_no=f"BENCH{index:03d}", defaults={"name": f"压测店铺 {index}"}
    )[0]


def main_actor(shop):
    from shops.models import Membership
    from waybill_console.tenancy import Actor

    return Actor.for_membership(shop.memberships.get(role=Membership.Role.MAIN))


def open_service(shop, carrier: str = "ZTO", *, balance: int = 0):
    """Apply, have the branch approve, and recharge ``balance`` numbers (franchise)."""
    from carriers import services as carrier_services
    from carriers.models import Branch
    from shops import services as shop_services
    from waybill_console.tenancy import Actor

    actor = main_actor(shop)
    address = shop_services.address_create(
        actor=actor, data={**SENDER, "detail": f"文一西路 {next(_address_seq)} 号 压测仓"}
    )
    branch = Branch.objects.filter(carrier__code=carrier, region_code__startswith="33").first()
    sub = carrier_services.subscription_apply(
        actor=actor,
        carrier=carrier,
        branch=branch.code,
        address=address.pk,
        contact_name="王经理",
        contact_phone="13800001111",
        agree=True,
    )
    branch_actor = Actor(shop=None, branch=branch)
    carrier_services.subscription_approve(actor=branch_actor, subscription=sub)
    recharge(sub, balance)
    sub.refresh_from_db()
    return sub


def recharge(sub, count: int) -> None:
    """Recharge through the branch's service (at most 1,000,000 a call)."""
    from carriers import services as carrier_services
    from waybill_console.tenancy import Actor

    branch_actor = Actor(shop=None, branch=sub.branch)
    while count > 0:
        part = min(count, 1_000_000)
        carrier_services.subscription_recharge(actor=branch_actor, subscription=sub, count=part)
        count -= part


def templates(shop, sub, count: int = TEMPLATE_COUNT) -> list[int]:
    """Ids of demo orders of ``shop`` whose receivers ``sub`` screens without a refusal
    (demo orders are added when the shop has too few)."""
    from carriers.gateways import gateway_for
    from shops.demo.orders import demo_orders_create
    from shops.models import Order
    from waybills.services.receiver import receiver_of as _receiver

    if Order.objects.filter(shop=shop).count() < count * 2:
        demo_orders_create(shop=shop, count=count * 4)
    gateway = gateway_for(sub.carrier.code)
    ids = []
    for order in Order.objects.filter(shop=shop).exclude(order_no__startswith="BENCH")[: count * 4]:
        try:
            gateway.screen(subscription=sub, receiver=_receiver(order))
        except Exception:  # a refusal: not a template  # nosec B112
            continue
        ids.append(order.pk)
        if len(ids) == count:
            break
    return ids


#: columns of a clone that are not the template's (SQL, with %(…)s parameters)
_CLONE_OVERRIDES = {
    "shop_id": "%(shop)s",
    "order_no": "%(prefix)s || lpad((%(start)s + g)::text, 10, '0')",
    "status": "%(status)s",
    "created_at": "%(now)s - make_interval(secs => %(age)s)",
    "updated_at": "%(now)s",
    "paid_at": "%(now)s - make_interval(secs => %(age)s) + interval '1 minute'",
    "after_sale_status": "'none'",
    "address_changed_at": "NULL",
    "cancel_request_status": "'none'",
    "cancel_requested_at": "NULL",
    "cancel_reason": "''",
    "reminders_sent": "0",
    "carrier_code": "%(carrier_code)s",
    "tracking_no": "''",
    "shipped_by_hand": "false",
    "has_waybill": "%(has_waybill)s",
    "is_dropship": "false",
    "return_address_id": "NULL",
    "ready_to_ship_at": "NULL",
    "shipped_at": "NULL",
    "picked_up_at": "NULL",
    "in_transit_at": "NULL",
    "delivered_at": "NULL",
    "failed_at": "NULL",
    "rerouted_at": "NULL",
    "cancelled_at": "NULL",
    "sla_due_at": "%(now)s - make_interval(secs => %(age)s) + interval '48 hours'",
    "sla_breaches": "'{}'",
}
_prefix_seq = itertools.count(1)


def clone_orders(
    *,
    template_ids: list[int],
    shop,
    count: int,
    status: str = "paid",
    has_waybill: bool = False,
    carrier_code: str = "",
    age_seconds: int = 600,
    overrides: dict[str, str] | None = None,
    params: dict | None = None,
) -> tuple[int, int]:
    """``count`` new orders of ``shop`` cloned round-robin from the templates, in one
    statement; returns the first and last id (one statement: the ids are consecutive).

    ``overrides`` are more column expressions (SQL over ``g``, the clone's 0-based index,
    ``t``, the template row, and ``%(…)s`` names from ``params``)."""
    from django.db import connection
    from django.utils import timezone

    from shops.models import Order

    columns = [f.column for f in Order._meta.concrete_fields if not f.primary_key]
    chosen = {**_CLONE_OVERRIDES, **(overrides or {})}
    exprs = [chosen.get(c, f"t.{c}") for c in columns]
    # unique across runs on a kept database as well
    prefix = f"BENCH{time.time_ns() // 1000:x}{next(_prefix_seq):02d}-"
    sql = f"""
        WITH t AS (
            SELECT row_number() OVER (ORDER BY id) - 1 AS k, * FROM shops_order
             WHERE id = ANY(%(templates)s)
        )
        INSERT INTO shops_order ({", ".join(columns)})
        SELECT {", ".join(exprs)}
          FROM generate_series(0, %(count)s - 1) g
          JOIN t ON t.k = g %% %(n)s
         ORDER BY g
        RETURNING id
    """  # nosec B608
    sql = f"WITH ins AS ({sql}) SELECT min(id), max(id), count(*) FROM ins"  # nosec B608
    with connection.cursor() as cur:
        cur.execute(
            sql,
            {
                "templates": template_ids,
                "n": len(template_ids),
                "count": count,
                "shop": shop.pk,
                "prefix": prefix,
                "start": 0,
                "status": status,
                "now": timezone.now(),
                "age": age_seconds,
                "carrier_code": carrier_code,
                "has_waybill": has_waybill,
                **(params or {}),
            },
        )
        first, last, made = cur.fetchone()
    if made != count or last - first + 1 != count:
        raise RuntimeError(f"cloned {made} orders, ids {first}..{last}: not consecutive")
    return first, last


def drop_indexes(*tables: str) -> list[str]:
    """Drop the tables' plain indexes (not primary keys or unique *constraints*) before a
    bulk load; returns their definitions for :func:`create_indexes`. A bulk load plus
    ``CREATE INDEX`` is much faster than maintaining a dozen indexes row by row, and the
    end state is the same schema (its indexes freshly built)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
                 FROM pg_index i
                WHERE i.indrelid = ANY(%s::regclass[])
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
            [list(tables)],
        )
        saved = cur.fetchall()
        for name, _ in saved:
            cur.execute(f"DROP INDEX {name}")
    return [definition for _, definition in saved]


def create_indexes(definitions: list[str]) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SET maintenance_work_mem = '256MB'")
        for definition in definitions:
            cur.execute(definition)
        cur.execute("RESET maintenance_work_mem")


def api_token(shop) -> str:
    from shops.services import api_token_create

    _token, key = api_token_create(shop=shop, name="bench")
    return key
