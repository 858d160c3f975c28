"""The 100-address cap, region codes, phone validation; sub-accounts and permission refusals."""

import threading

import pytest
from django.db import connection

from shops import services
from shops.models import Address, Membership
from tests.conftest import main_actor, make_order, token_client
from waybill_console import permissions as perms
from waybill_console.errors import AppError

pytestmark = pytest.mark.django_db

ADDRESS = {
    "contact_name": "王仓管",
    "phone": "13800001111",
    "province": "浙江省",
    "city": "杭州市",
    "district": "余杭区",
    "street": "仓前街道",
    "detail": "文一西路 1 号",
}


def test_address_stores_region_codes(shop_a):
    address = services.address_create(actor=main_actor(shop_a), data=ADDRESS)
    assert (address.province_code, address.city_code, address.district_code) == (
        "330000",
        "330100",
        "330110",
    )
    assert address.is_default_sender and address.is_default_return  # the first one


@pytest.mark.parametrize(
    ("field", "value"),
    [("phone", "1234"), ("district", "西城区"), ("province", "火星省"), ("detail", "")],
)
def test_bad_address_names_the_field_and_writes_nothing(shop_a, field, value):
    with pytest.raises(AppError) as refused:
        services.address_create(actor=main_actor(shop_a), data={**ADDRESS, field: value})
    assert refused.value.code == "VALIDATION_ERROR"
    assert field in refused.value.detail
    assert Address.objects.count() == 0


def test_101st_address_is_refused(shop_a):
    actor = main_actor(shop_a)
    Address.objects.bulk_create(
        Address(
            shop=shop_a,
            contact_name="x",
            phone="13800001111",
            province="浙江省",
            province_code="330000",
            city="杭州市",
            city_code="330100",
            detail=f"{i} 号",
        )
        for i in range(99)
    )
    services.address_create(actor=actor, data=ADDRESS)
    with pytest.raises(AppError) as refused:
        services.address_create(actor=actor, data=ADDRESS)
    assert refused.value.code == "ADDRESS_LIMIT"
    assert Address.objects.filter(shop=shop_a).count() == 100


@pytest.mark.django_db(transaction=True)
def test_address_cap_holds_under_concurrency(shop_a):
    Address.objects.bulk_create(
        Address(
            shop=shop_a,
            contact_name="x",
            phone="13800001111",
            province="浙江省",
            province_code="330000",
            city="杭州市",
            city_code="330100",
            detail=f"{i} 号",
        )
        for i in range(95)
    )
    actor = main_actor(shop_a)
    barrier = threading.Barrier(10)
    codes = []

    def add():
        try:
            barrier.wait()
            services.address_create(actor=actor, data=ADDRESS)
            codes.append("ok")
        except AppError as err:
            codes.append(err.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=add) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Address.objects.filter(shop=shop_a).count() == 100
    assert codes.count("ok") == 5 and codes.count("ADDRESS_LIMIT") == 5


def test_address_api_and_cap_code(shop_a):
    api = token_client(shop_a)
    created = api.post("/api/v1/addresses/", ADDRESS, format="json")
    assert created.status_code == 201 and created.json()["district_code"] == "330110"
    assert api.get("/api/v1/addresses/").json()[0]["city"] == "杭州市"


def test_address_of_a_subscription_is_not_deleted(client, shop_a):
    """The API answers 409 ADDRESS_IN_USE (was a 500), the page shows the message; the
    address stays."""
    from django.utils import translation
    from django.utils.html import escape

    from shops.errors import AddressInUse
    from tests.waybills.conftest import open_service

    address_id = open_service(shop_a, balance=0).address_id
    response = token_client(shop_a).delete(f"/api/v1/addresses/{address_id}/")
    assert response.status_code == 409
    assert response.json()["code"] == "ADDRESS_IN_USE"
    client.force_login(shop_a.memberships.get(role=Membership.Role.MAIN).user)
    page = client.post(f"/console/addresses/{address_id}/delete/", follow=True)
    assert page.status_code == 200
    with translation.override("zh-hans"):
        message = AddressInUse().render_message()
    assert escape(message) in page.content.decode()
    assert Address.objects.filter(pk=address_id).exists()


def test_sub_account_without_address_permission_is_refused(shop_a):
    sub = services.sub_account_create(
        actor=main_actor(shop_a),
        username="clerk9",
        password="Desk-nine-99",
        permissions=[perms.PRINT],
    )
    from waybill_console.tenancy import Actor

    with pytest.raises(AppError) as refused:
        services.address_create(actor=Actor.for_membership(sub), data=ADDRESS)
    assert refused.value.code == "PERMISSION_DENIED"
    assert Address.objects.count() == 0


@pytest.mark.parametrize(
    ("scope", "call"),
    [
        (
            "print",
            lambda api, o: api.post(
                f"/api/v1/orders/{o.pk}/ship/",
                {"carrier": "ZTO", "tracking_no": "73100000000001"},
                format="json",
            ),
        ),
        ("print", lambda api, o: api.post(f"/api/v1/orders/{o.pk}/after-sale/", {}, format="json")),
        ("ship", lambda api, o: api.post("/api/v1/orders/export/", {}, format="json")),
    ],
)
def test_token_without_permission_is_refused(shop_a, scope, call):
    order = make_order(shop_a)
    response = call(token_client(shop_a, scopes=[scope]), order)
    assert response.status_code == 403
    assert response.json()["code"] == "PERMISSION_DENIED"
    order.refresh_from_db()
    assert order.status == "paid" and order.after_sale_status == "none"


def test_main_account_manages_sub_accounts_on_the_page(client, shop_a):
    client.force_login(shop_a.memberships.get().user)
    response = client.post(
        "/console/accounts/",
        {
            "username": "packer7",
            "password": "Packing-desk-7",
            "permissions": [perms.PRINT, perms.SHIP],
        },
    )
    assert response.status_code == 302
    sub = Membership.objects.get(user__username="packer7")
    assert sub.permissions == [perms.PRINT, perms.SHIP]
    client.post(
        f"/console/accounts/{sub.pk}/", {"action": "permissions", "permissions": [perms.EXPORT]}
    )
    asked = client.post(f"/console/accounts/{sub.pk}/", {"action": "disable"})
    assert asked.status_code == 200 and 'data-testid="confirm"' in asked.content.decode()
    sub.refresh_from_db()
    assert sub.is_active  # not before the confirmation
    client.post(f"/console/accounts/{sub.pk}/", {"action": "disable", "confirm": "1"})
    sub.refresh_from_db()
    assert sub.permissions == [perms.EXPORT] and not sub.is_active


def test_sub_account_cannot_open_the_sub_account_page(client, shop_a):
    sub = services.sub_account_create(
        actor=main_actor(shop_a),
        username="clerk8",
        password="Desk-eight-88",
        permissions=perms.GRANTABLE,
    )
    client.force_login(sub.user)
    response = client.get("/console/accounts/")
    assert response.status_code == 403
    assert (
        "子账号管理" in response.content.decode()
        or "PERMISSION_DENIED" in response.content.decode()
    )


def test_disabled_sub_account_has_no_shop(client, shop_a):
    sub = services.sub_account_create(
        actor=main_actor(shop_a),
        username="clerk7",
        password="Desk-seven-77",
        permissions=[perms.PRINT],
    )
    services.sub_account_update(actor=main_actor(shop_a), membership_id=sub.pk, is_active=False)
    client.force_login(sub.user)
    assert client.get("/console/orders/").status_code == 403
