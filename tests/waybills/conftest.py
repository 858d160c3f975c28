"""Waybill fixtures: a shop with an open, recharged e-waybill service and paid orders."""

from __future__ import annotations

import pytest

from carriers import services as carrier_services
from carriers.demo import demo_branches_create
from carriers.models import Branch, Subscription
from shops import services as shop_services
from tests.conftest import ensure_carrier_catalog, main_actor
from waybill_console.tenancy import Actor

SENDER = {
    "contact_name": "王仓管",
    "phone": "13800001111",
    "province": "浙江省",
    "city": "杭州市",
    "district": "余杭区",
    "detail": "文一西路 1 号",
}


@pytest.fixture
def branches(db):
    ensure_carrier_catalog()
    if not Branch.objects.exists():
        demo_branches_create()


def open_service(
    shop, carrier: str = "ZTO", *, balance: int = 100, detail: str = "文一西路 1 号", **kw
) -> Subscription:
    """Apply, have the branch approve, and recharge ``balance`` numbers (franchise)."""
    ensure_carrier_catalog()
    if not Branch.objects.exists():
        demo_branches_create()
    address = shop_services.address_create(
        actor=main_actor(shop), data={**SENDER, "detail": detail}
    )
    branch = Branch.objects.filter(carrier__code=carrier, region_code__startswith="33").first()
    sub = carrier_services.subscription_apply(
        actor=main_actor(shop),
        carrier=carrier,
        branch=branch.code,
        address=address.pk,
        contact_name="王经理",
        contact_phone="13800001111",
        agree=True,
        **kw,
    )
    branch_actor = Actor(shop=None, branch=branch)
    carrier_services.subscription_approve(actor=branch_actor, subscription=sub)
    if balance and sub.carrier.network_type == "franchise":
        carrier_services.subscription_recharge(actor=branch_actor, subscription=sub, count=balance)
    sub.refresh_from_db()
    return sub


def branch_actor(sub: Subscription) -> Actor:
    return Actor(shop=None, branch=sub.branch)
