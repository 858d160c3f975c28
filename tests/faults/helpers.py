"""Small helpers shared by the fault tests: SQL against the app's database, job polling."""

from __future__ import annotations

from tests.faults.servers import SHOP_NO, App, wait_for

LIVE = ("allocated", "picked_up", "in_transit", "delivered", "failed")


def rows(conn, sql: str, params=()) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def fault_orders(conn, count: int, *, offset: int = 0) -> list[int]:
    """Ids of ``count`` of the seeded FAULT* orders (paid, a receiver the branch serves)."""
    return [
        r[0]
        for r in rows(
            conn,
            "SELECT o.id FROM shops_order o JOIN shops_shop s ON s.id = o.shop_id "
            "WHERE s.shop_no = %s AND o.order_no LIKE 'FAULT%%' ORDER BY o.id "
            "LIMIT %s OFFSET %s",
            [SHOP_NO, count, offset],
        )
    ]


def subscription(conn) -> tuple[int, int]:
    """The demo merchant's ZTO subscription: (id, balance)."""
    [(sub_id, balance)] = rows(
        conn,
        "SELECT sub.id, sub.balance FROM carriers_subscription sub "
        "JOIN shops_shop s ON s.id = sub.shop_id JOIN carriers_carrier c ON c.id = sub.carrier_id "
        "WHERE s.shop_no = %s AND c.code = 'ZTO'",
        [SHOP_NO],
    )
    return sub_id, balance


def live_numbers(conn, order_ids: list[int]) -> list[tuple[int, str]]:
    """(order id, waybill_no) of every live waybill of these orders."""
    return rows(
        conn,
        "SELECT order_id, waybill_no FROM waybills_waybill "
        "WHERE order_id = ANY(%s) AND status = ANY(%s) ORDER BY order_id",
        [order_ids, list(LIVE)],
    )


def job(conn, job_id: int) -> dict:
    [(status, done, total, attempts)] = rows(
        conn,
        "SELECT status, done, total, attempts FROM waybill_console_job WHERE id = %s",
        [job_id],
    )
    return {"status": status, "done": done, "total": total, "attempts": attempts}


def wait_job(app: App, token: str, job_id: int, *, timeout: float = 90) -> dict:
    api = app.api(token)

    def finished():
        body = api.get(f"{app.base}/api/v1/jobs/{job_id}/", timeout=10).json()
        return body if body["status"] in ("succeeded", "failed") else None

    return wait_for(finished, timeout=timeout, interval=0.25, what=f"job {job_id}")
