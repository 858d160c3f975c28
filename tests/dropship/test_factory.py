"""The factory's side: what it sees (masked merchant, order number and consumer), drawing
with its own subscription (its quota and ledger move, the merchant's do not; the waybill
is the factory's), printing through the printing app (the label carries the real
receiver, decrypted on the audited path; the barcode scans back), the automatic return
to the merchant, and the blocks (after-sale, address change) before the return."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from carriers.models import LedgerEntry, Subscription
from carriers.services import ledger_check
from dropship import selectors
from dropship.models import FactoryOrder
from dropship.services import factory as fs
from printing import services as print_services
from shops import services as shop_services
from tests.conftest import main_actor
from tests.dropship.conftest import (
    RECEIVER,
    SECRETS,
    allocate,
    allocated,
    bind,
    factory_order,
    make_factory,
    new_order,
    returned,
)
from tests.printing.decode import pdf_image, png_image, scan
from tests.waybills.conftest import open_service
from waybill_console.errors import AppError
from waybill_console.models import DecryptionAudit
from waybills.models import Waybill
from waybills.selectors import UsageFilters, waybill_list
from waybills.services.jobs import reconciliation_rows

pytestmark = pytest.mark.django_db

NEW_RECEIVER = {**RECEIVER, "name": "司马相如", "phone": "13700001111", "detail": "天目山路 1 号"}


def counters(sub: Subscription) -> tuple:
    sub.refresh_from_db()
    return sub.balance, sub.allocated_total, sub.printed_total, sub.ledger.count()


def draw(factory, fo, sub) -> FactoryOrder:
    return fs.factory_order_draw(
        actor=main_actor(factory), factory_order_id=fo.pk, subscription=sub.pk
    )


def print_pdf(factory, *fos) -> bytes:
    body, _orders = fs.factory_order_print(
        actor=main_actor(factory), factory_order_ids=[fo.pk for fo in fos], carrier="ZTO"
    )
    return body


def audits(shop) -> list[tuple]:
    return list(
        DecryptionAudit.objects.filter(shop=shop)
        .order_by("pk")
        .values_list("model", "object_pk", "purpose")
    )


# --- what the factory sees ------------------------------------------------------------------


def test_the_factory_sees_masked_merchant_order_and_consumer(merchant, factory, order):
    fo = allocated(merchant, factory, order)

    (row,) = selectors.factory_order_list(actor=main_actor(factory))
    view = selectors.factory_view(row)

    assert view["merchant"] == "11**01" and view["merchant_name"] == "星河代发"
    assert view["order_no"] != order.order_no
    assert view["order_no"][:4] == order.order_no[:4] and "*" in view["order_no"]
    assert (view["receiver_name"], view["receiver_phone"]) == ("欧***", "139****5678")
    assert view["receiver_address"].startswith("浙江省杭州市西湖区")
    assert (view["status"], view["return_status"], view["after_sale_status"]) == (
        "allocated",
        "not_returned",
        "none",
    )
    assert [(i["sku"], i["quantity"]) for i in view["items"]] == [("CUP-1", 2), ("LID-2", 1)]
    dumped = json.dumps(view, ensure_ascii=False, default=str)
    for secret in (*SECRETS, order.order_no, merchant.shop_no):
        assert secret not in dumped
    assert view["id"] == fo.pk


def test_reading_the_factory_list_decrypts_nothing(merchant, factory, order):
    allocated(merchant, factory, order)
    for fo in selectors.factory_order_list(actor=main_actor(factory)):
        selectors.factory_view(fo)
    assert not DecryptionAudit.objects.exists()


def test_the_factory_list_filters(merchant, factory, binding, factory_sub):
    open_fo = allocated(merchant, factory)
    done_fo = returned(merchant, factory, factory_sub)
    blocked = allocated(merchant, factory)
    shop_services.order_start_after_sale(actor=main_actor(merchant), order=blocked.order)

    def ids(**kw):
        filters = selectors.FactoryFilters.from_params(kw)
        return {fo.pk for fo in selectors.factory_order_list(actor=main_actor(factory),
                                                             filters=filters)}  # fmt: skip

    assert ids(returned="yes") == {done_fo.pk}
    assert ids(returned="no") == {open_fo.pk, blocked.pk}
    assert ids(after_sale="yes") == {blocked.pk}
    assert ids(status="cancelled") == {blocked.pk}
    # the factory names a merchant by the masked id it sees; a shop number matches nothing
    assert ids(merchant="11**01") == {open_fo.pk, done_fo.pk, blocked.pk}
    assert ids(merchant=merchant.shop_no) == set()
    with pytest.raises(AppError) as err:
        ids(returned="maybe")
    assert err.value.code == "VALIDATION_ERROR" and "returned" in err.value.detail


def test_a_merchant_cannot_read_the_factory_list(merchant, factory, order):
    allocated(merchant, factory, order)
    with pytest.raises(AppError) as err:
        selectors.factory_order_list(actor=main_actor(merchant))
    assert err.value.code == "PERMISSION_DENIED"


# --- drawing with the factory's own subscription --------------------------------------------


def test_the_draw_charges_the_factorys_quota_and_never_the_merchants(
    merchant, factory, order, factory_sub, merchant_sub
):
    fo = allocated(merchant, factory, order)
    merchant_before = counters(merchant_sub)

    fo = draw(factory, fo, factory_sub)

    waybill = fo.waybill
    assert counters(factory_sub)[:2] == (9, 1)
    entry = LedgerEntry.objects.filter(subscription=factory_sub).order_by("pk").last()
    assert (entry.kind, entry.amount, entry.balance_after, entry.reference) == (
        "allocation",
        -1,
        9,
        f"order:{order.pk}",
    )
    assert counters(merchant_sub) == merchant_before == (10, 0, 0, 1)
    assert ledger_check() == []
    # the number is the factory's (its usage details), drawn for the merchant's order
    assert (waybill.shop_id, waybill.order_id, waybill.subscription_id) == (
        factory.pk,
        order.pk,
        factory_sub.pk,
    )
    assert list(waybill_list(actor=main_actor(factory))) == [waybill]
    assert list(waybill_list(actor=main_actor(merchant))) == []
    # the merchant's dropship sender and the factory's items only
    assert waybill.sender["name"] == "星河仓" and waybill.sender["shop_name"] == "星河代发"
    assert [i["sku"] for i in waybill.items] == ["CUP-1", "LID-2"]
    # drawn is not returned: the merchant has no number yet
    assert fo.returned_at is None and fo.tracking_no == ""
    assert Waybill.objects.get(pk=waybill.pk).status == "allocated"


def test_drawing_again_returns_the_same_number_and_charges_once(
    merchant, factory, order, factory_sub
):
    fo = allocated(merchant, factory, order)
    first = draw(factory, fo, factory_sub).waybill.waybill_no
    again = draw(factory, fo, factory_sub).waybill.waybill_no
    assert first == again
    assert counters(factory_sub)[:2] == (9, 1)
    assert Waybill.objects.count() == 1


def test_the_factory_cannot_draw_on_the_merchants_subscription(
    merchant, factory, order, factory_sub, merchant_sub
):
    fo = allocated(merchant, factory, order)
    merchant_before = counters(merchant_sub)

    with pytest.raises(AppError) as err:
        draw(factory, fo, merchant_sub)

    assert err.value.code == "VALIDATION_ERROR" and "subscription" in err.value.detail
    assert counters(merchant_sub) == merchant_before
    assert not Waybill.objects.exists()
    assert factory_order(order, factory).waybill_id is None


def test_an_empty_factory_quota_refuses_and_writes_nothing(merchant, factory, order):
    sub = open_service(factory, "ZTO", balance=0)
    fo = allocated(merchant, factory, order)

    with pytest.raises(AppError) as err:
        draw(factory, fo, sub)

    assert err.value.code == "QUOTA_INSUFFICIENT"
    assert not Waybill.objects.exists()
    assert counters(sub)[:2] == (0, 0) and ledger_check() == []
    assert factory_order(order, factory).waybill_id is None


def test_the_factory_draws_only_for_its_own_orders(merchant, factory, order, factory_sub):
    fo = allocated(merchant, factory, order)
    stranger = make_factory("210102", username="f2")
    bind(merchant, stranger)
    sub2 = open_service(stranger, "ZTO", balance=5)

    with pytest.raises(AppError) as err:
        draw(stranger, fo, sub2)

    assert err.value.code == "NOT_FOUND"
    assert counters(sub2)[:2] == (5, 0) and not Waybill.objects.exists()


def test_no_draw_once_the_binding_ended(merchant, factory, binding, factory_sub):
    from dropship.services import identity

    fo = allocated(merchant, factory)
    identity.binding_unbind(actor=main_actor(merchant), binding_id=binding.pk)
    with pytest.raises(AppError) as err:
        draw(factory, fo, factory_sub)
    assert err.value.code == "ALLOCATION_CANCELLED"
    assert counters(factory_sub)[:2] == (10, 0)


def test_two_factories_of_one_order_draw_two_packages(merchant, factory, binding, factory_sub):
    other = make_factory("210102", username="f2")
    bind(merchant, other)
    order = new_order(merchant)  # after both bindings
    other_sub = open_service(other, "ZTO", balance=5)
    cup, lid = order.items.order_by("pk")
    allocate(merchant, factory, order_items=[cup])
    allocate(merchant, other, order_items=[lid])

    first = draw(factory, factory_order(order, factory), factory_sub).waybill
    second = draw(other, factory_order(order, other), other_sub).waybill

    assert (first.package_no, second.package_no) == (101, 102)  # apart from the merchant's 1…
    assert (first.shop_id, second.shop_id) == (factory.pk, other.pk)
    assert [i["sku"] for i in first.items] == ["CUP-1"]
    assert [i["sku"] for i in second.items] == ["LID-2"]
    assert counters(factory_sub)[:2] == (9, 1) and counters(other_sub)[:2] == (4, 1)


# --- printing: the real receiver on the label, audited --------------------------------------


def test_the_label_carries_the_real_receiver_decrypted_on_the_audited_path(
    merchant, factory, order, factory_sub
):
    fo = draw(factory, allocated(merchant, factory, order), factory_sub)
    waybill = fo.waybill
    template = print_services.template_for(shop=factory, carrier=waybill.carrier)
    assert audits(factory) == []

    data = print_services.label_data(actor=main_actor(factory), waybill=waybill, template=template)

    assert data.receiver_line == "欧阳娜娜 13912345678"
    assert data.receiver_address == "浙江省杭州市西湖区文三路 90 号 5 幢 701"
    assert data.sender_line == "星河仓 13800002222"
    assert data.sender_address == "浙江省杭州市余杭区良渚街道好运路 8 号"
    assert data.shop_name == "星河代发"
    assert order.order_no not in data.order_no and "*" in data.order_no
    assert data.waybill_no == waybill.waybill_no
    assert audits(factory) == [("waybills.Waybill", str(waybill.pk), "print_label")]
    audit = DecryptionAudit.objects.get(shop=factory)
    assert audit.user.username == "ds-factory"
    assert audit.fields == ["receiver_name", "receiver_phone", "receiver_detail"]


def test_printing_returns_the_number_to_the_merchant_and_the_barcode_scans_back(
    merchant, factory, order, factory_sub, merchant_sub
):
    fo = allocated(merchant, factory, order)
    merchant_before = counters(merchant_sub)

    body = print_pdf(factory, fo)  # draws on the way

    assert body.startswith(b"%PDF")
    fo = factory_order(order, factory)
    waybill = fo.waybill
    assert ("Code128", waybill.waybill_no) in scan(pdf_image(body))
    # returned automatically: the merchant sees the number
    assert fo.is_returned and (fo.carrier_code, fo.tracking_no) == ("ZTO", waybill.waybill_no)
    (mine,) = {a.factory_order.tracking_no for a in selectors.allocation_list(
        actor=main_actor(merchant), order_id=order.pk)}  # fmt: skip
    assert mine == waybill.waybill_no
    returned_list = selectors.dropship_order_list(
        actor=main_actor(merchant), filters=selectors.MerchantFilters(state="returned")
    )
    assert list(returned_list) == [order]
    # one print counted on the factory's side, one audited decryption by the factory
    assert Waybill.objects.get(pk=waybill.pk).print_count == 1
    assert counters(factory_sub)[:3] == (9, 1, 1)
    assert counters(merchant_sub) == merchant_before
    assert audits(factory) == [("waybills.Waybill", str(waybill.pk), "print_label")]
    assert not DecryptionAudit.objects.exclude(shop=factory).exists()


def test_a_png_label_through_the_printing_app_scans_back(merchant, factory, order, factory_sub):
    fo = draw(factory, allocated(merchant, factory, order), factory_sub)
    body, _template = print_services.label_render(
        actor=main_actor(factory), waybill=fo.waybill, fmt="png"
    )
    assert ("Code128", fo.waybill.waybill_no) in scan(png_image(body))
    assert audits(factory) == [("waybills.Waybill", str(fo.waybill.pk), "print_label")]


def test_the_factory_prints_on_its_own_network_printer_real_bytes(
    merchant, factory, order, factory_sub
):
    from printing import print_jobs, printers
    from tests.printing.decode import escpos_image
    from tests.printing.doubles import PRINT, PrinterListener

    fo = allocated(merchant, factory, order)
    with PrinterListener(PRINT) as listener:
        printer = printers.printer_create(
            actor=main_actor(factory),
            data={"name": "工厂打包台", "kind": "escpos", "connection": "network",
                  "host": "127.0.0.1", "port": listener.port},
        )  # fmt: skip
        job, _orders = fs.factory_order_print(
            actor=main_actor(factory),
            factory_order_ids=[fo.pk],
            fmt="escpos",
            printer_id=printer.pk,
            subscription=factory_sub.pk,
        )
        assert print_jobs.print_job_send(job_id=job.pk) == "printed"

    fo = factory_order(order, factory)
    (stream,) = listener.documents
    assert ("Code128", fo.waybill.waybill_no) in scan(escpos_image(stream))
    assert fo.is_returned and fo.tracking_no == fo.waybill.waybill_no
    assert audits(factory) == [("waybills.Waybill", str(fo.waybill.pk), "print_label")]
    assert Waybill.objects.get(pk=fo.waybill.pk).print_count == 1


def test_the_factory_cannot_print_on_the_merchants_printer(merchant, factory, order, factory_sub):
    from printing import printers

    theirs = printers.printer_create(
        actor=main_actor(merchant),
        data={"name": "商家打包台", "kind": "escpos", "connection": "network",
              "host": "127.0.0.1", "port": 9100},
    )  # fmt: skip
    fo = allocated(merchant, factory, order)
    with pytest.raises(AppError) as err:
        fs.factory_order_print(
            actor=main_actor(factory), factory_order_ids=[fo.pk], fmt="escpos",
            printer_id=theirs.pk, subscription=factory_sub.pk,
        )  # fmt: skip
    assert err.value.code == "VALIDATION_ERROR" and "printer" in err.value.detail
    assert not Waybill.objects.exists() and counters(factory_sub)[:2] == (10, 0)


def test_a_factory_clerk_needs_the_allocate_and_print_permissions(
    merchant, factory, order, factory_sub
):
    from waybill_console import permissions as perms
    from waybill_console.tenancy import Actor

    fo = allocated(merchant, factory, order)
    clerk = Actor.for_membership(
        shop_services.sub_account_create(
            actor=main_actor(factory),
            username="fclerk",
            password="pass-12345",
            permissions=[perms.DROPSHIP_MANAGE],
        )
    )
    for call in (
        lambda: fs.factory_order_draw(actor=clerk, factory_order_id=fo.pk, carrier="ZTO"),
        lambda: fs.factory_order_print(actor=clerk, factory_order_ids=[fo.pk], carrier="ZTO"),
    ):
        with pytest.raises(AppError) as err:
            call()
        assert err.value.code == "PERMISSION_DENIED"
    assert not Waybill.objects.exists() and counters(factory_sub)[:2] == (10, 0)


def test_after_sale_before_the_return_blocks_printing(merchant, factory, order, factory_sub):
    fo = draw(factory, allocated(merchant, factory, order), factory_sub)
    shop_services.order_start_after_sale(actor=main_actor(merchant), order=order)

    with pytest.raises(AppError) as err:
        print_pdf(factory, fo)

    assert err.value.code == "ORDER_BLOCKED"
    fo.refresh_from_db()
    assert fo.returned_at is None and fo.tracking_no == ""
    assert Waybill.objects.get(pk=fo.waybill_id).print_count == 0
    assert audits(factory) == []


def test_an_address_change_after_the_draw_blocks_printing(merchant, factory, order, factory_sub):
    fo = draw(factory, allocated(merchant, factory, order), factory_sub)
    shop_services.order_change_address(
        actor=main_actor(merchant),
        order=order,
        receiver=NEW_RECEIVER,
        now=timezone.now() + timedelta(seconds=1),
    )

    with pytest.raises(AppError) as err:
        print_pdf(factory, fo)

    assert err.value.code == "ORDER_BLOCKED"
    assert "address_changed_at" in err.value.detail
    fo.refresh_from_db()
    assert fo.returned_at is None
    assert Waybill.objects.get(pk=fo.waybill_id).print_count == 0
    assert audits(factory) == []


def test_an_address_changed_before_the_draw_prints_the_new_receiver(
    merchant, factory, order, factory_sub
):
    fo = allocated(merchant, factory, order)
    shop_services.order_change_address(
        actor=main_actor(merchant), order=order, receiver=NEW_RECEIVER
    )
    print_pdf(factory, fo)
    fo = factory_order(order, factory)
    template = print_services.template_for(shop=factory, carrier=fo.waybill.carrier)
    data = print_services.label_data(actor=main_actor(factory), waybill=fo.waybill,
                                     template=template)  # fmt: skip
    assert fo.is_returned and data.receiver_line == "司马相如 13700001111"


def test_an_order_under_review_does_not_print(merchant, factory, order, factory_sub):
    fo = allocated(merchant, factory, order)
    shop_services.order_request_cancel(actor=main_actor(merchant), order=order)
    with pytest.raises(AppError) as err:
        print_pdf(factory, fo)
    assert err.value.code == "ORDER_BLOCKED"
    assert not Waybill.objects.exists() and counters(factory_sub)[:2] == (10, 0)


def test_print_input_is_checked(merchant, factory, order, factory_sub):
    fo = allocated(merchant, factory, order)
    actor = main_actor(factory)
    for ids, code in (([], "VALIDATION_ERROR"), (["x"], "VALIDATION_ERROR"),
                      (list(range(1, 52)), "BATCH_TOO_LARGE")):  # fmt: skip
        with pytest.raises(AppError) as err:
            fs.factory_order_print(actor=actor, factory_order_ids=ids)
        assert err.value.code == code
    with pytest.raises(AppError) as err:
        fs.factory_order_print(actor=actor, factory_order_ids=[fo.pk], fmt="zpl", printer_id=999)
    assert err.value.code == "VALIDATION_ERROR" and "printer" in err.value.detail
    assert not Waybill.objects.exists()


# --- returning a number by hand -------------------------------------------------------------


def test_the_factory_returns_the_drawn_number_once(merchant, factory, order, factory_sub):
    fo = draw(factory, allocated(merchant, factory, order), factory_sub)
    at = timezone.now()

    back = fs.factory_order_return(actor=main_actor(factory), factory_order_id=fo.pk, now=at)
    again = fs.factory_order_return(
        actor=main_actor(factory), factory_order_id=fo.pk, now=at + timedelta(hours=1)
    )

    assert (back.tracking_no, back.carrier_code, back.returned_at) == (
        fo.waybill.waybill_no,
        "ZTO",
        at,
    )
    assert again.returned_at == at


def test_an_outside_number_can_be_returned_and_is_checked(merchant, factory, order):
    fo = allocated(merchant, factory, order)
    actor = main_actor(factory)
    with pytest.raises(AppError) as err:
        fs.factory_order_return(actor=actor, factory_order_id=fo.pk)
    assert err.value.code == "VALIDATION_ERROR" and "tracking_no" in err.value.detail
    with pytest.raises(AppError) as err:
        fs.factory_order_return(
            actor=actor, factory_order_id=fo.pk, carrier="NOPE", tracking_no="12-34"
        )
    assert err.value.code == "VALIDATION_ERROR"
    assert set(err.value.detail) == {"carrier", "tracking_no"}
    assert factory_order(order, factory).returned_at is None

    back = fs.factory_order_return(
        actor=actor, factory_order_id=fo.pk, carrier="yto", tracking_no="YT 1234 5678 9012"
    )
    assert (back.carrier_code, back.tracking_no, back.waybill_id) == (
        "YTO",
        "YT123456789012",
        None,
    )


# --- exports the factory receives -----------------------------------------------------------


def test_the_factorys_reconciliation_rows_carry_no_plaintext(merchant, factory, order, factory_sub):
    fo = draw(factory, allocated(merchant, factory, order), factory_sub)
    rows = list(reconciliation_rows(actor=main_actor(factory), filters=UsageFilters()))
    assert len(rows) == 1 and rows[0][0] == fo.waybill.waybill_no
    text = json.dumps(rows, ensure_ascii=False, default=str)
    for secret in (*SECRETS, order.order_no):
        assert secret not in text
    assert "欧***" in text and "139****5678" in text
