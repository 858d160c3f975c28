"""The shop type (官方旗舰店 … 个人店) is shown in the console header and the shop switcher,
and answered by ``GET /api/v1/me/``."""

from __future__ import annotations

import pytest

from shops.models import ShopType
from tests.conftest import make_shop, make_user, token_client

pytestmark = pytest.mark.django_db

CHINESE = {
    ShopType.OFFICIAL_FLAGSHIP: "官方旗舰店",
    ShopType.FLAGSHIP: "旗舰店",
    ShopType.SPECIALTY: "专卖店",
    ShopType.FRANCHISE: "专营店",
    ShopType.ENTERPRISE: "企业店",
    ShopType.INDIVIDUAL_BUSINESS: "个体店（个体工商户）",
    ShopType.INDIVIDUAL: "个人店",
}


@pytest.mark.parametrize("shop_type", list(ShopType))
def test_the_header_shows_the_current_shops_type(client, shop_type):
    shop = make_shop(shop_type=shop_type)
    client.force_login(shop.memberships.get().user)
    html = client.get("/console/").content.decode()
    assert (
        f'<span class="badge shop-type" data-testid="shop-type">{CHINESE[shop_type]}</span>' in html
    )


def test_the_shop_switcher_names_each_shops_type(client):
    owner = make_user()
    first = make_shop(user=owner, name="甲店", shop_type=ShopType.OFFICIAL_FLAGSHIP)
    second = make_shop(user=owner, name="乙店", shop_type=ShopType.INDIVIDUAL)
    client.force_login(owner)
    client.post("/console/switch-shop/", {"shop": second.pk})
    html = client.get("/console/").content.decode()
    assert f"甲店 ({first.shop_no}) · 官方旗舰店</option>" in html
    assert f"乙店 ({second.shop_no}) · 个人店</option>" in html
    assert '<span class="badge shop-type" data-testid="shop-type">个人店</span>' in html


def test_the_api_profile_answers_the_shop_type():
    shop = make_shop(shop_type=ShopType.SPECIALTY)
    me = token_client(shop, language="zh-hans").get("/api/v1/me/").json()
    assert (me["shop_no"], me["shop_type"], me["shop_type_label"]) == (
        shop.shop_no,
        "specialty",
        "专卖店",
    )
    english = token_client(shop, language="en").get("/api/v1/me/").json()
    assert english["shop_type_label"] == "Specialty store (专卖店)"
