"""Dropship identity (merchant or factory, locked once a binding request exists), who may
manage it, bindings by shop number (request, confirm, reject, unbind from either side)
and which orders reach the merchant's dropship list."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from dropship import selectors
from dropship.models import Allocation, Binding, DropshipProfile, FactoryOrder
from dropship.services import identity
from shops import services as shop_services
from tests.conftest import main_actor, make_shop, make_user
from tests.dropship.conftest import (
    FACTORY_NO,
    MERCHANT_PROFILE,
    allocate,
    allocated,
    bind,
    make_factory,
    make_merchant,
    new_order,
    profile,
    returned,
)
from tests.waybills.parallel import run_in_processes
from waybill_console import permissions as perms
from waybill_console.errors import AppError
from waybill_console.tenancy import Actor

pytestmark = pytest.mark.django_db


def sub_actor(shop, *permissions: str, username: str = "clerk") -> Actor:
    membership = shop_services.sub_account_create(
        actor=main_actor(shop),
        username=username,
        password="pass-12345",
        permissions=list(permissions),
    )
    return Actor.for_membership(membership)


# --- identity -------------------------------------------------------------------------------


def test_a_shop_is_a_merchant_until_it_chooses_to_be_a_factory():
    shop = make_shop("120001", user=make_user())
    assert identity.profile_for(shop).identity == "merchant"
    assert not DropshipProfile.objects.filter(shop=shop).exists()  # reading writes nothing

    identity.profile_update(actor=main_actor(shop), data={"identity": "factory"})

    assert profile(shop).identity == "factory"
    assert identity.profile_for(shop).identity == "factory"


def test_the_identity_can_switch_back_and_forth_while_no_request_exists(factory):
    identity.profile_update(actor=main_actor(factory), data=MERCHANT_PROFILE)
    assert profile(factory).identity == "merchant"
    assert profile(factory).display_name == "星河代发"

    identity.profile_update(actor=main_actor(factory), data={"identity": "factory"})
    assert profile(factory).identity == "factory"


def test_a_merchant_must_give_its_dropship_name_and_sender_and_nothing_is_half_written():
    shop = make_shop("120002", user=make_user())
    with pytest.raises(AppError) as err:
        identity.profile_update(
            actor=main_actor(shop), data={"identity": "merchant", "display_name": "星河代发"}
        )
    assert err.value.code == "VALIDATION_ERROR"
    assert set(err.value.detail) == {"sender_name", "sender_phone"}
    assert not DropshipProfile.objects.filter(shop=shop).exists()


def test_bad_profile_fields_are_named_and_nothing_changes(merchant):
    before = profile(merchant)
    with pytest.raises(AppError) as err:
        identity.profile_update(
            actor=main_actor(merchant),
            data={"identity": "supplier", "display_name": "名" * 61, "sender_name": "新仓"},
        )
    assert err.value.code == "VALIDATION_ERROR"
    assert set(err.value.detail) == {"identity", "display_name"}
    after = profile(merchant)
    assert (after.identity, after.display_name, after.sender_name) == (
        before.identity,
        before.display_name,
        before.sender_name,
    )


def test_the_merchant_identity_is_locked_once_it_sent_a_request(merchant, factory):
    identity.binding_request(actor=main_actor(merchant), factory_shop_no=factory.shop_no)

    with pytest.raises(AppError) as err:
        identity.profile_update(actor=main_actor(merchant), data={"identity": "factory"})

    assert err.value.code == "DROPSHIP_IDENTITY_LOCKED" and err.value.status == 409
    assert profile(merchant).identity == "merchant"


def test_the_factory_identity_is_locked_once_it_received_a_request(merchant, factory):
    identity.binding_request(actor=main_actor(merchant), factory_shop_no=factory.shop_no)

    with pytest.raises(AppError) as err:
        identity.profile_update(actor=main_actor(factory), data=MERCHANT_PROFILE)

    assert err.value.code == "DROPSHIP_IDENTITY_LOCKED"
    after = profile(factory)
    assert (after.identity, after.display_name) == ("factory", "")  # nothing half-written


@pytest.mark.parametrize("end", ["reject", "unbind"])
def test_the_identity_stays_locked_after_the_request_was_rejected_or_unbound(
    merchant, factory, end
):
    binding = identity.binding_request(actor=main_actor(merchant), factory_shop_no=FACTORY_NO)
    if end == "reject":
        identity.binding_reject(actor=main_actor(factory), binding_id=binding.pk)
    else:
        identity.binding_unbind(actor=main_actor(merchant), binding_id=binding.pk)

    for shop, data in ((merchant, {"identity": "factory"}), (factory, MERCHANT_PROFILE)):
        with pytest.raises(AppError) as err:
            identity.profile_update(actor=main_actor(shop), data=data)
        assert err.value.code == "DROPSHIP_IDENTITY_LOCKED"
    assert (profile(merchant).identity, profile(factory).identity) == ("merchant", "factory")


def test_a_locked_merchant_can_still_change_its_name_and_sender(binding, merchant):
    identity.profile_update(
        actor=main_actor(merchant),
        data={"display_name": "星河二号仓", "sender_phone": "13800003333"},
    )
    assert (profile(merchant).display_name, profile(merchant).sender_phone) == (
        "星河二号仓",
        "13800003333",
    )


# --- who may manage dropship ----------------------------------------------------------------


def test_a_sub_account_without_the_dropship_permission_is_refused_everywhere(merchant, factory):
    clerk = sub_actor(merchant, perms.ORDER_MANAGE, perms.SHIP, perms.PRINT)
    fclerk = sub_actor(factory, perms.PRINT, perms.WAYBILL_ALLOCATE, username="fclerk")
    pending = identity.binding_request(actor=main_actor(merchant), factory_shop_no=FACTORY_NO)

    calls = [
        lambda: identity.profile_update(actor=clerk, data={"display_name": "偷改"}),
        lambda: identity.binding_request(actor=clerk, factory_shop_no=FACTORY_NO),
        lambda: identity.binding_unbind(actor=clerk, binding_id=pending.pk),
        lambda: identity.binding_confirm(actor=fclerk, binding_id=pending.pk),
        lambda: identity.binding_reject(actor=fclerk, binding_id=pending.pk),
        lambda: selectors.binding_list(actor=clerk),
    ]
    for call in calls:
        with pytest.raises(AppError) as err:
            call()
        assert err.value.code == "PERMISSION_DENIED"
        assert err.value.detail == {"permission": perms.DROPSHIP_MANAGE}
    assert profile(merchant).display_name == "星河代发"
    assert Binding.objects.get().status == "pending"


def test_a_sub_account_with_the_dropship_permission_can_manage_it(merchant, factory):
    clerk = sub_actor(merchant, perms.DROPSHIP_MANAGE)
    fclerk = sub_actor(factory, perms.DROPSHIP_MANAGE, username="fclerk")

    identity.profile_update(actor=clerk, data={"display_name": "星河代发二部"})
    binding = identity.binding_request(actor=clerk, factory_shop_no=FACTORY_NO)
    identity.binding_confirm(actor=fclerk, binding_id=binding.pk)

    assert profile(merchant).display_name == "星河代发二部"
    assert Binding.objects.get(pk=binding.pk).status == "active"
    assert binding.actor == "user:clerk"


# --- bindings -------------------------------------------------------------------------------


def test_the_merchant_binds_a_factory_by_its_shop_number(merchant, factory):
    at = timezone.now()
    binding = identity.binding_request(
        actor=main_actor(merchant), factory_shop_no=f" {FACTORY_NO} ", now=at
    )
    assert (binding.merchant_id, binding.factory_id, binding.status) == (
        merchant.pk,
        factory.pk,
        "pending",
    )
    assert binding.requested_at == at and binding.confirmed_at is None
    # asking again while it is pending is refused (BINDING_EXISTS), nothing is added
    with pytest.raises(AppError) as err:
        identity.binding_request(actor=main_actor(merchant), factory_shop_no=FACTORY_NO)
    assert (err.value.code, err.value.status, err.value.detail) == (
        "BINDING_EXISTS",
        409,
        {"status": "pending"},
    )
    assert list(Binding.objects.values_list("pk", "status")) == [(binding.pk, "pending")]


@pytest.mark.parametrize("target", ["merchant_shop", "no_profile", "unknown", "itself"])
def test_binding_a_shop_that_is_not_a_factory_is_refused(merchant, target):
    other_merchant = make_merchant("110102", username="m2")
    plain = make_shop("130001", user=make_user())
    shop_no = {
        "merchant_shop": other_merchant.shop_no,
        "no_profile": plain.shop_no,
        "unknown": "999999",
        "itself": merchant.shop_no,
    }[target]

    with pytest.raises(AppError) as err:
        identity.binding_request(actor=main_actor(merchant), factory_shop_no=shop_no)

    assert err.value.code == "NOT_A_FACTORY" and err.value.status == 422
    assert err.value.detail == {"factory_shop_no": shop_no}
    assert shop_no in err.value.render_message()
    assert not Binding.objects.exists()
    # nothing was sent: the merchant may still switch identity
    identity.profile_update(actor=main_actor(merchant), data={"identity": "factory"})


def test_an_empty_shop_number_names_the_field(merchant):
    with pytest.raises(AppError) as err:
        identity.binding_request(actor=main_actor(merchant), factory_shop_no="  ")
    assert err.value.code == "VALIDATION_ERROR" and "factory_shop_no" in err.value.detail


def test_a_factory_cannot_send_a_binding_request(factory):
    other = make_factory("210102", username="f2")
    with pytest.raises(AppError) as err:
        identity.binding_request(actor=main_actor(factory), factory_shop_no=other.shop_no)
    assert err.value.code == "PERMISSION_DENIED"
    assert not Binding.objects.exists()


def test_the_factory_confirms_and_orders_after_that_reach_the_dropship_list(merchant, factory):
    earlier = new_order(merchant)
    request = identity.binding_request(actor=main_actor(merchant), factory_shop_no=FACTORY_NO)
    during = new_order(merchant)  # requested, not yet confirmed
    at = timezone.now()

    binding = identity.binding_confirm(actor=main_actor(factory), binding_id=request.pk, now=at)
    after = new_order(merchant)

    assert (binding.status, binding.confirmed_at) == ("active", at)
    listed = list(selectors.dropship_order_list(actor=main_actor(merchant)))
    assert listed == [after]
    assert earlier not in listed and during not in listed
    (result,) = {r["error"]["code"] for r in allocate(merchant, factory, orders=[earlier])}
    assert result == "ORDER_NOT_SYNCED"
    assert not Allocation.objects.filter(order=earlier).exists()
    assert all(r["ok"] for r in allocate(merchant, factory, orders=[after]))


def test_no_dropship_list_before_any_binding_is_confirmed(merchant, factory):
    identity.binding_request(actor=main_actor(merchant), factory_shop_no=FACTORY_NO)
    new_order(merchant)
    assert list(selectors.dropship_order_list(actor=main_actor(merchant))) == []


def test_the_factory_rejects_and_the_merchant_may_ask_again(merchant, factory):
    first = identity.binding_request(actor=main_actor(merchant), factory_shop_no=FACTORY_NO)
    rejected = identity.binding_reject(actor=main_actor(factory), binding_id=first.pk)
    assert (rejected.status, rejected.ended_by) == ("rejected", "factory")
    assert rejected.ended_at is not None

    with pytest.raises(AppError) as err:  # a rejected request cannot be confirmed afterwards
        identity.binding_confirm(actor=main_actor(factory), binding_id=first.pk)
    assert err.value.code == "BINDING_STATE_CONFLICT"
    assert Binding.objects.get(pk=first.pk).status == "rejected"

    second = identity.binding_request(actor=main_actor(merchant), factory_shop_no=FACTORY_NO)
    assert second.pk != first.pk and second.status == "pending"


def test_only_the_requested_factory_confirms(merchant, factory):
    stranger = make_factory("210102", username="f2")
    request = identity.binding_request(actor=main_actor(merchant), factory_shop_no=FACTORY_NO)

    with pytest.raises(AppError) as err:
        identity.binding_confirm(actor=main_actor(stranger), binding_id=request.pk)
    assert err.value.code == "NOT_FOUND"
    with pytest.raises(AppError) as err:  # the merchant cannot confirm its own request
        identity.binding_confirm(actor=main_actor(merchant), binding_id=request.pk)
    assert err.value.code == "PERMISSION_DENIED"
    assert Binding.objects.get(pk=request.pk).status == "pending"


def test_confirming_twice_is_a_state_conflict(binding, factory):
    with pytest.raises(AppError) as err:
        identity.binding_confirm(actor=main_actor(factory), binding_id=binding.pk)
    assert err.value.code == "BINDING_STATE_CONFLICT" and err.value.detail == {"status": "active"}
    assert Binding.objects.get(pk=binding.pk).confirmed_at == binding.confirmed_at


@pytest.mark.parametrize("side", ["merchant", "factory"])
def test_either_side_unbinds(merchant, factory, binding, side):
    shop = merchant if side == "merchant" else factory
    at = timezone.now() + timedelta(minutes=1)

    ended = identity.binding_unbind(actor=main_actor(shop), binding_id=binding.pk, now=at)

    assert (ended.status, ended.ended_by, ended.ended_at) == ("unbound", side, at)
    with pytest.raises(AppError) as err:  # once only
        identity.binding_unbind(actor=main_actor(shop), binding_id=binding.pk)
    assert err.value.code == "BINDING_STATE_CONFLICT"
    # no more hand-overs to that factory
    with pytest.raises(AppError) as err:
        allocate(merchant, factory, orders=[new_order(merchant)])
    assert err.value.code == "BINDING_NOT_ACTIVE"
    assert not Allocation.objects.exists()


def test_a_stranger_cannot_unbind(binding):
    stranger = make_merchant("110102", username="m2")
    with pytest.raises(AppError) as err:
        identity.binding_unbind(actor=main_actor(stranger), binding_id=binding.pk)
    assert err.value.code == "NOT_FOUND"
    assert Binding.objects.get(pk=binding.pk).status == "active"


def test_unbinding_cancels_open_allocations_but_keeps_returned_ones(
    merchant, factory, binding, factory_sub
):
    open_fo = allocated(merchant, factory)
    done_fo = returned(merchant, factory, factory_sub)

    identity.binding_unbind(actor=main_actor(factory), binding_id=binding.pk)

    open_fo.refresh_from_db()
    done_fo.refresh_from_db()
    assert (open_fo.status, open_fo.cancel_reason) == ("cancelled", "unbound")
    assert set(
        Allocation.objects.filter(factory_order=open_fo).values_list("status", flat=True)
    ) == {"cancelled"}
    assert done_fo.status == "allocated" and done_fo.is_returned
    assert Allocation.objects.filter(factory_order=done_fo, status="allocated").count() == 2


def test_a_rebinding_after_unbind_syncs_only_orders_after_the_new_confirmation(
    merchant, factory, binding
):
    identity.binding_unbind(actor=main_actor(merchant), binding_id=binding.pk)
    between = new_order(merchant)
    bind(merchant, factory, now=timezone.now())
    later = new_order(merchant)

    codes = [r.get("error", {}).get("code") for r in allocate(merchant, factory, orders=[between])]
    assert codes == ["ORDER_NOT_SYNCED"]
    assert all(r["ok"] for r in allocate(merchant, factory, orders=[later]))
    assert FactoryOrder.objects.filter(order=later).count() == 1


# --- who sees the merchant's dropship name and sender --------------------------------------


def test_only_the_merchants_factories_see_its_dropship_name_and_sender(merchant, factory, binding):
    stranger = make_factory("210102", username="f2")
    fo = allocated(merchant, factory)

    mine = selectors.factory_view(selectors.factory_order_get(actor=main_actor(factory),
                                                              factory_order_id=fo.pk))  # fmt: skip
    assert mine["merchant_name"] == "星河代发"
    (row,) = selectors.binding_list(actor=main_actor(factory))
    assert row.merchant.dropship_profile.sender_name == "星河仓"

    assert list(selectors.binding_list(actor=main_actor(stranger))) == []
    assert list(selectors.factory_order_list(actor=main_actor(stranger))) == []
    for call in (
        lambda: selectors.factory_order_get(actor=main_actor(stranger), factory_order_id=fo.pk),
        lambda: selectors.binding_get(actor=main_actor(stranger), binding_id=binding.pk),
    ):
        with pytest.raises(AppError) as err:
            call()
        assert err.value.code == "NOT_FOUND"


# --- a switch and a request at the same moment ----------------------------------------------


def _switch_to_merchant(factory_id: int, slow: bool) -> str:
    """The factory switches to merchant; ``slow``: it dawdles after its lock check (inside
    its transaction), else it starts a moment late."""
    import time

    from shops.models import Shop

    if slow:
        check = identity.identity_locked

        def dawdle(shop):
            result = check(shop)
            time.sleep(1.0)
            return result

        identity.identity_locked = dawdle  # this child process only
    else:
        time.sleep(0.3)
    try:
        identity.profile_update(
            actor=main_actor(Shop.objects.get(pk=factory_id)), data=MERCHANT_PROFILE
        )
        return "switched"
    except AppError as err:
        return err.code


def _request_binding(merchant_id: int, factory_no: str, slow: bool) -> str:
    """The merchant asks; ``slow``: it dawdles after writing the request (inside its
    transaction), else it starts a moment late."""
    import time

    from shops.models import Shop

    if slow:
        create = Binding.objects.create

        def dawdle(**kw):
            row = create(**kw)
            time.sleep(1.0)
            return row

        Binding.objects.create = dawdle  # this child process only
    else:
        time.sleep(0.3)
    try:
        identity.binding_request(
            actor=main_actor(Shop.objects.get(pk=merchant_id)), factory_shop_no=factory_no
        )
        return "requested"
    except AppError as err:
        return err.code


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("slow", "expected"),
    [
        ("switch", ["NOT_A_FACTORY", "switched"]),
        ("request", ["requested", "DROPSHIP_IDENTITY_LOCKED"]),
    ],
)
def test_an_identity_switch_racing_a_binding_request_never_both_pass(slow, expected):
    merchant, factory = make_merchant(), make_factory()

    outcomes = run_in_processes(
        lambda which, *args: (
            _request_binding(*args) if which == "request" else _switch_to_merchant(*args)
        ),
        [
            ("request", merchant.pk, FACTORY_NO, slow == "request"),
            ("switch", factory.pk, slow == "switch"),
        ],
    )

    assert outcomes == expected
    # whatever won, a binding never points at a shop that is not a factory
    for binding in Binding.objects.select_related("factory__dropship_profile"):
        assert binding.factory.dropship_profile.identity == "factory"
