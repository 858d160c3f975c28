"""Consumer data is ciphertext at rest, masked on the way out, and every decryption is audited."""

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from shops import selectors, services
from shops.models import Order
from tests.conftest import main_actor, make_order, token_client
from waybill_console import crypto
from waybill_console.models import DecryptionAudit

pytestmark = pytest.mark.django_db


def _raw_row(order_id):
    with connection.cursor() as cur:
        cur.execute(
            "SELECT receiver_name, receiver_phone, receiver_detail, receiver_phone_index"
            " FROM shops_order WHERE id = %s",
            [order_id],
        )
        return cur.fetchone()


def test_receiver_is_ciphertext_in_the_database(shop_a):
    order = make_order(shop_a, name="李小龙", phone="13812345678")

    name, phone, detail, index = _raw_row(order.pk)

    for column in (name, phone, detail, index):
        assert "李小龙" not in column
        assert "13812345678" not in column
        assert "文三路" not in column
    assert name.startswith("gAAAA")  # a Fernet token
    assert index == crypto.blind_index("13812345678")


def test_each_decryption_leaves_an_audit_row(shop_a):
    order = make_order(shop_a, name="李小龙", phone="13812345678")
    actor = main_actor(shop_a)
    loaded = Order.objects.get(pk=order.pk)

    first = services.order_reveal_receiver(actor=actor, order=loaded)
    services.order_reveal_receiver(actor=actor, order=loaded)

    assert first["name"] == "李小龙" and first["phone"] == "13812345678"
    rows = list(DecryptionAudit.objects.order_by("id"))
    assert len(rows) == 2
    assert rows[0].shop_id == shop_a.pk
    assert rows[0].user == actor.user
    assert rows[0].model == "shops.Order" and rows[0].object_pk == str(order.pk)
    assert rows[0].fields == ["receiver_name", "receiver_phone", "receiver_detail"]


def test_api_reveal_is_audited_with_the_token(shop_a):
    order = make_order(shop_a, phone="13700000001")
    response = token_client(shop_a).post(f"/api/v1/orders/{order.pk}/reveal/")
    assert response.status_code == 200
    assert response.json()["phone"] == "13700000001"
    audit = DecryptionAudit.objects.get()
    assert audit.token_prefix and audit.user is None


def test_loaded_values_never_print_their_content(shop_a):
    order = Order.objects.get(pk=make_order(shop_a, name="王五").pk)
    assert isinstance(order.receiver_name, crypto.Sealed)
    assert "王五" not in str(order.receiver_name) and "王五" not in repr(order.receiver_name)
    assert DecryptionAudit.objects.count() == 0


def test_api_and_pages_show_only_masked_values(client, shop_a):
    order = make_order(shop_a, name="欧阳娜娜", phone="13812345678")
    body = token_client(shop_a).get(f"/api/v1/orders/{order.pk}/").json()
    assert body["receiver"]["name"] == "欧***"
    assert body["receiver"]["phone"] == "138****5678"
    assert body["receiver"]["detail"] == "****"
    client.force_login(shop_a.memberships.get().user)
    html = client.get(f"/console/orders/{order.pk}/").content.decode()
    assert "138****5678" in html and "13812345678" not in html and "欧阳娜娜" not in html
    assert DecryptionAudit.objects.count() == 0


def test_search_by_full_phone_uses_the_blind_index(shop_a):
    make_order(shop_a, "P-1", phone="13811112222")
    make_order(shop_a, "P-2", phone="13933334444")
    found = selectors.order_list(actor=main_actor(shop_a), q="139 3333 4444")
    assert [o.order_no for o in found] == ["P-2"]


def test_key_rotation_keeps_old_data_readable_and_reencrypts(shop_a, settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    order = make_order(shop_a, name="赵六")
    before = _raw_row(order.pk)[0]
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]

    # still readable with the old key behind the new one
    assert (
        services.order_reveal_receiver(
            actor=main_actor(shop_a), order=Order.objects.get(pk=order.pk)
        )["name"]
        == "赵六"
    )
    call_command("rotate_encryption", stdout=open("/dev/null", "w"))
    after = _raw_row(order.pk)[0]
    assert after != before

    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key is gone
    assert (
        services.order_reveal_receiver(
            actor=main_actor(shop_a), order=Order.objects.get(pk=order.pk)
        )["name"]
        == "赵六"
    )


@pytest.mark.parametrize(
    ("name", "masked"), [("张三", "张*"), ("欧阳娜娜", "欧***"), ("Alice", "A****"), ("", "")]
)
def test_mask_name(name, masked):
    assert crypto.mask_name(name) == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("13812341234", "138****1234"), ("+86 138-1234-1234", "138****1234"), ("0571888", "*****88")],
)
def test_mask_phone(phone, masked):
    assert crypto.mask_phone(phone) == masked


def test_blind_index_is_keyed(settings):
    a = crypto.blind_index("13812341234")
    settings.BLIND_INDEX_KEY = "another-key"
    assert crypto.blind_index("13812341234") != a
