"""Dropship fixtures: a merchant with its dropship name and sender, a factory with its own
ZTO service (opened, approved and recharged the way the waybill tests do it), an active
binding between them, and orders created after it with two items each."""

from __future__ import annotations

import pytest

from dropship.models import Binding, DropshipProfile, FactoryOrder
from dropship.services import allocation as alloc
from dropship.services import factory as fs
from dropship.services import identity
from tests.conftest import main_actor, make_order, make_shop, make_user
from tests.waybills.conftest import open_service

MERCHANT_NO = "110101"
FACTORY_NO = "210101"

RECEIVER = {
    "name": "欧阳娜娜",
    "phone": "13912345678",
    "province": "浙江省",
    "city": "杭州市",
    "district": "西湖区",
    "detail": "文三路 90 号 5 幢 701",
}
#: what must never reach the factory except on its printed label
SECRETS = ("欧阳娜娜", "13912345678", "文三路")

ITEMS = [
    {"sku": "CUP-1", "product_name": "保温杯", "spec": "500ml 白色", "quantity": 2,
     "unit_price": "39.90"},
    {"sku": "LID-2", "product_name": "杯盖", "spec": "白色", "quantity": 1, "unit_price": "9.90"},
]  # fmt: skip

MERCHANT_PROFILE = {
    "identity": "merchant",
    "display_name": "星河代发",
    "sender_name": "星河仓",
    "sender_phone": "13800002222",
    "sender_province": "浙江省",
    "sender_city": "杭州市",
    "sender_district": "余杭区",
    "sender_detail": "良渚街道好运路 8 号",
}


def make_merchant(shop_no: str = MERCHANT_NO, username: str = "ds-merchant", **profile):
    shop = make_shop(shop_no, user=make_user(username), name="星河家居旗舰店")
    identity.profile_update(actor=main_actor(shop), data={**MERCHANT_PROFILE, **profile})
    return shop


def make_factory(shop_no: str = FACTORY_NO, username: str = "ds-factory"):
    shop = make_shop(shop_no, user=make_user(username), name="义乌优品工厂")
    identity.profile_update(actor=main_actor(shop), data={"identity": "factory"})
    return shop


def bind(merchant, factory, now=None) -> Binding:
    binding = identity.binding_request(
        actor=main_actor(merchant), factory_shop_no=factory.shop_no, now=now
    )
    return identity.binding_confirm(actor=main_actor(factory), binding_id=binding.pk, now=now)


def new_order(merchant, **kw):
    """A paid order with two items (CUP-1 × 2, LID-2 × 1) for 欧阳娜娜."""
    return make_order(merchant, items=kw.pop("items", ITEMS), receiver=RECEIVER, **kw)


def allocate(merchant, factory, *, orders=None, order_items=None, now=None) -> list[dict]:
    return alloc.allocation_create(
        actor=main_actor(merchant),
        factory=factory.shop_no,
        orders=[o.pk for o in orders or []],
        order_items=[i.pk for i in order_items or []],
        now=now,
    )


def factory_order(order, factory) -> FactoryOrder:
    return FactoryOrder.objects.get(order=order, factory=factory)


def allocated(merchant, factory, order=None) -> FactoryOrder:
    """The whole order handed to the factory."""
    order = order or new_order(merchant)
    results = allocate(merchant, factory, orders=[order])
    assert all(r["ok"] for r in results), results
    return factory_order(order, factory)


def returned(merchant, factory, sub, order=None) -> FactoryOrder:
    """Handed over, drawn from the factory's subscription and returned to the merchant."""
    fo = allocated(merchant, factory, order)
    fs.factory_order_draw(actor=main_actor(factory), factory_order_id=fo.pk, subscription=sub.pk)
    return fs.factory_order_return(actor=main_actor(factory), factory_order_id=fo.pk)


@pytest.fixture
def merchant(db):
    return make_merchant()


@pytest.fixture
def factory(db):
    return make_factory()


@pytest.fixture
def factory_sub(factory):
    """The factory's own ZTO service with 10 numbers."""
    return open_service(factory, "ZTO", balance=10)


@pytest.fixture
def merchant_sub(merchant):
    """The merchant's own ZTO service (must stay untouched by the factory's draws)."""
    return open_service(merchant, "ZTO", balance=10, detail="文二路 2 号")


@pytest.fixture
def binding(merchant, factory):
    return bind(merchant, factory)


@pytest.fixture
def order(binding, merchant):
    """An order created after the binding, with two items."""
    return new_order(merchant)


def profile(shop) -> DropshipProfile:
    return DropshipProfile.objects.get(shop=shop)
