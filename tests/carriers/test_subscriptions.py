"""Opening e-waybill service, the branch side, and the quota ledger."""

import random
import threading
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from carriers import services
from carriers.demo import demo_branches_create
from carriers.models import Branch, LedgerEntry, Subscription
from shops import services as shop_services
from shops.models import Address
from tests.conftest import main_actor, make_shop, make_user, token_client
from waybill_console.errors import AppError

ADDRESS = {
    "contact_name": "王仓管",
    "phone": "13800001111",
    "province": "浙江省",
    "city": "杭州市",
    "district": "余杭区",
    "detail": "文一西路 1 号",
}


@pytest.fixture
def branches(db):
    from tests.conftest import ensure_carrier_catalog

    ensure_carrier_catalog()
    demo_branches_create()


def _address(shop, detail="文一西路 1 号"):
    return shop_services.address_create(actor=main_actor(shop), data={**ADDRESS, "detail": detail})


def _apply(shop, carrier="ZTO", address=None, **kw):
    code = Branch.objects.filter(carrier__code=carrier, region_code__startswith="33").first().code
    data = {
        "carrier": carrier,
        "branch": kw.pop("branch_code", code),
        "address": (address or _address(shop)).pk,
        "contact_name": "王经理",
        "contact_phone": "13800001111",
        "agree": True,
        **kw,
    }
    return services.subscription_apply(actor=main_actor(shop), **data)


def _branch_api(sub):
    return token_client(branch=sub.branch)


pytestmark = pytest.mark.django_db


def test_application_is_pending_review(shop_a, branches):
    sub = _apply(shop_a)
    assert sub.status == "pending_review" and not sub.is_default and sub.balance == 0


def test_one_branch_per_address_per_carrier(shop_a, branches):
    address = _address(shop_a)
    _apply(shop_a, address=address)
    with pytest.raises(AppError) as refused:
        _apply(shop_a, address=address)
    assert refused.value.code == "BRANCH_PER_ADDRESS_LIMIT"
    _apply(shop_a, carrier="YTO", address=address)  # another carrier is fine
    assert Subscription.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_applications_for_one_address_one_wins(branches):
    shop = make_shop(user=make_user())
    address = _address(shop)
    barrier = threading.Barrier(2)
    outcomes = []

    def apply():
        try:
            barrier.wait()
            _apply(shop, address=address)
            outcomes.append("ok")
        except AppError as err:
            outcomes.append(err.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=apply) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["BRANCH_PER_ADDRESS_LIMIT", "ok"]
    assert Subscription.objects.filter(shop=shop).count() == 1


def test_branch_per_carrier_limit(shop_a, branches, monkeypatch):
    monkeypatch.setattr(services, "BRANCH_PER_CARRIER_LIMIT", 2)
    codes = list(Branch.objects.filter(carrier__code="ZTO").values_list("code", flat=True)[:3])
    _apply(shop_a, branch_code=codes[0], address=_address(shop_a, "1 号"))
    _apply(shop_a, branch_code=codes[1], address=_address(shop_a, "2 号"))
    with pytest.raises(AppError) as refused:
        _apply(shop_a, branch_code=codes[2], address=_address(shop_a, "3 号"))
    assert refused.value.code == "BRANCH_PER_CARRIER_LIMIT"
    assert Subscription.objects.count() == 2


def test_direct_carrier_needs_monthly_account(shop_a, branches):
    with pytest.raises(AppError) as refused:
        _apply(shop_a, carrier="SF")
    assert refused.value.code == "MONTHLY_ACCOUNT_INVALID"
    assert str(refused.value.render_message()) == "商家编码不存在/月结账号失效，请与物流公司核实"
    assert _apply(shop_a, carrier="SF", monthly_account="0571123456").status == "pending_review"


def test_yunda_needs_secret_key(shop_a, branches):
    with pytest.raises(AppError) as refused:
        _apply(shop_a, carrier="YUNDA")
    assert refused.value.code == "SECRET_KEY_MISSING"
    assert Subscription.objects.count() == 0


def test_agreement_must_be_accepted(shop_a, branches):
    with pytest.raises(AppError) as refused:
        _apply(shop_a, agree=False)
    assert refused.value.code == "VALIDATION_ERROR" and "agree" in refused.value.detail


def test_branch_approves_through_the_api_and_first_active_is_default(shop_a, branches):
    sub = _apply(shop_a)
    response = _branch_api(sub).post(f"/api/v1/carrier/subscriptions/{sub.pk}/approve/")
    assert response.status_code == 200
    assert response.json()["status"] == "active" and response.json()["is_default"] is True


def test_another_branch_cannot_see_the_application(shop_a, branches):
    sub = _apply(shop_a)
    other = Branch.objects.exclude(pk=sub.branch_id).first()
    response = token_client(branch=other).post(f"/api/v1/carrier/subscriptions/{sub.pk}/approve/")
    assert response.status_code == 404
    assert Subscription.objects.get(pk=sub.pk).status == "pending_review"


def test_shop_token_cannot_approve(shop_a, branches):
    sub = _apply(shop_a)
    response = token_client(shop_a).post(f"/api/v1/carrier/subscriptions/{sub.pk}/approve/")
    assert response.status_code == 403


def test_rejected_application_can_be_reapplied(shop_a, branches):
    sub = _apply(shop_a)
    _branch_api(sub).post(
        f"/api/v1/carrier/subscriptions/{sub.pk}/reject/",
        {"reason": "地址不在服务范围"},
        format="json",
    )
    sub.refresh_from_db()
    assert sub.status == "rejected" and sub.reject_reason == "地址不在服务范围"
    # the address is free again for this carrier while rejected
    response = token_client(shop_a).post(f"/api/v1/subscriptions/{sub.pk}/reapply/")
    assert response.json()["status"] == "pending_review"


def test_expiring_cannot_be_default_or_reapplied_only_cancelled(shop_a, branches):
    sub = _apply(shop_a)
    api = _branch_api(sub)
    api.post(f"/api/v1/carrier/subscriptions/{sub.pk}/approve/")
    assert (
        api.post(f"/api/v1/carrier/subscriptions/{sub.pk}/mark-expiring/").json()["status"]
        == "expiring"
    )
    merchant = token_client(shop_a)
    for action in ("set-default", "reapply"):
        response = merchant.post(f"/api/v1/subscriptions/{sub.pk}/{action}/")
        assert response.status_code == 409
        assert response.json()["code"] == "SUBSCRIPTION_EXPIRING"
    assert Subscription.objects.get(pk=sub.pk).is_default is False
    assert merchant.post(f"/api/v1/subscriptions/{sub.pk}/cancel/").json()["status"] == "cancelled"
    again = _apply(shop_a, address=sub.address)  # apply again for the same address
    assert again.status == "pending_review"


def test_set_default_moves_the_default(shop_a, branches):
    first = _apply(shop_a, address=_address(shop_a, "1 号"))
    second = _apply(shop_a, address=_address(shop_a, "2 号"))
    for sub in (first, second):
        services.subscription_approve(actor=_branch_actor(sub), subscription=sub)
    services.subscription_set_default(actor=main_actor(shop_a), subscription=second)
    assert list(Subscription.objects.filter(is_default=True).values_list("pk", flat=True)) == [
        second.pk
    ]


def _branch_actor(sub):
    from waybill_console.tenancy import Actor

    return Actor(shop=None, branch=sub.branch)


def test_sharing_with_the_owners_other_shop(branches):
    owner = make_user()
    main, other = make_shop(user=owner), make_shop(user=owner)
    stranger = make_shop(user=make_user())
    sub = _apply(main)
    with pytest.raises(AppError):
        services.subscription_share(
            actor=main_actor(main), subscription=sub, shop_nos=[stranger.shop_no]
        )
    services.subscription_share(actor=main_actor(main), subscription=sub, shop_nos=[other.shop_no])
    seen = token_client(other).get(f"/api/v1/subscriptions/{sub.pk}/")
    assert seen.status_code == 200
    assert token_client(stranger).get(f"/api/v1/subscriptions/{sub.pk}/").status_code == 404


def test_recharge_1000_shows_in_balance_and_ledger(shop_a, branches):
    sub = _apply(shop_a)
    api = _branch_api(sub)
    api.post(f"/api/v1/carrier/subscriptions/{sub.pk}/approve/")
    response = api.post(
        f"/api/v1/carrier/subscriptions/{sub.pk}/recharge/", {"count": 1000}, format="json"
    )
    assert response.json()["balance"] == 1000
    ledger = token_client(shop_a).get(f"/api/v1/subscriptions/{sub.pk}/ledger/").json()
    assert ledger["results"][0]["kind"] == "recharge"
    assert ledger["results"][0]["amount"] == 1000 and ledger["results"][0]["balance_after"] == 1000


def test_recharge_refused_before_approval_and_for_direct_carriers(shop_a, branches):
    sub = _apply(shop_a)
    with pytest.raises(AppError) as refused:
        services.subscription_recharge(actor=_branch_actor(sub), subscription=sub, count=10)
    assert refused.value.code == "SUBSCRIPTION_NOT_ACTIVE"
    sf = _apply(shop_a, carrier="SF", monthly_account="0571", address=sub.address)
    services.subscription_approve(actor=_branch_actor(sf), subscription=sf)
    with pytest.raises(AppError):
        services.subscription_recharge(actor=_branch_actor(sf), subscription=sf, count=10)
    assert LedgerEntry.objects.count() == 0


def test_balance_never_goes_below_zero(shop_a, branches):
    sub = _apply(shop_a)
    with pytest.raises(AppError) as refused:
        services.ledger_post(subscription=sub, kind="allocation", amount=-1)
    assert refused.value.code == "QUOTA_INSUFFICIENT"
    assert refused.value.render_message() == "单号余额不足，请尽快联系网点申购"
    sub.refresh_from_db()
    assert sub.balance == 0 and sub.allocated_total == 0 and LedgerEntry.objects.count() == 0


def test_ledger_invariant_after_a_random_mix(shop_a, branches):
    sub = _apply(shop_a)
    services.subscription_approve(actor=_branch_actor(sub), subscription=sub)
    rng = random.Random(7)
    refused = 0
    for _ in range(300):
        kind = rng.choices(
            # allocations go through the waybill engine (tests/waybills), not ledger_post
            ["recharge", "rededuction", "adjustment"],
            weights=[1, 6, 2],
        )[0]
        amount = {
            "recharge": rng.randint(1, 20),
            "rededuction": -rng.randint(1, 5),
            "adjustment": rng.choice([-2, 2]),
        }[kind]
        try:
            services.ledger_post(subscription=sub, kind=kind, amount=amount)
        except AppError:
            refused += 1
    sub.refresh_from_db()
    assert sub.balance >= 0 and refused > 0
    assert services.ledger_check() == []
    out = StringIO()
    call_command("check_ledger", stdout=out)
    assert "ledger OK" in out.getvalue()


def test_check_ledger_finds_a_tampered_counter(shop_a, branches):
    sub = _apply(shop_a)
    services.subscription_approve(actor=_branch_actor(sub), subscription=sub)
    services.subscription_recharge(actor=_branch_actor(sub), subscription=sub, count=5)
    Subscription.objects.filter(pk=sub.pk).update(balance=6)
    with pytest.raises(CommandError):
        call_command("check_ledger", stdout=StringIO())


@pytest.mark.django_db(transaction=True)
def test_parallel_draws_never_overdraw(branches):
    shop = make_shop(user=make_user())
    sub = _apply(shop)
    services.subscription_approve(actor=_branch_actor(sub), subscription=sub)
    services.subscription_recharge(actor=_branch_actor(sub), subscription=sub, count=20)
    barrier = threading.Barrier(8)
    ok = []

    def draw():
        try:
            barrier.wait()
            for _ in range(5):
                try:
                    services.ledger_post(subscription=sub, kind="adjustment", amount=-1)
                    ok.append(1)
                except AppError:
                    pass
        finally:
            connection.close()

    threads = [threading.Thread(target=draw) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sub.refresh_from_db()
    assert len(ok) == 20 and sub.balance == 0
    assert services.ledger_check() == []


def test_branch_search_api(shop_a, branches):
    api = token_client(shop_a)
    by_region = api.get("/api/v1/branches/", {"carrier": "ZTO", "province": "浙江省"}).json()
    assert [b["province"] for b in by_region["results"]] == ["浙江省"]
    by_code = api.get("/api/v1/branches/", {"province": "330000", "city": "330100"}).json()
    assert by_code["count"] == 12  # every carrier has a branch there
    fuzzy = api.get("/api/v1/branches/", {"carrier": "YTO", "q": "杭州"}).json()
    assert fuzzy["count"] == 1 and "杭州" in fuzzy["results"][0]["name"]
    assert api.get("/api/v1/branches/", {"province": "火星"}).json()["count"] == 0


def test_carrier_catalog_api(shop_a):
    carriers = {c["code"]: c for c in token_client(shop_a).get("/api/v1/carriers/").json()}
    assert set(carriers) == {
        "ZTO",
        "YTO",
        "YUNDA",
        "STO",
        "JT",
        "POSTB",
        "EMS",
        "SF",
        "JD",
        "FENGWANG",
        "DEPPON",
        "ZTOINTL",
    }
    assert carriers["SF"]["network_type"] == "direct" and carriers["SF"]["needs_monthly_account"]
    assert carriers["YUNDA"]["needs_secret_key"]


@pytest.mark.parametrize(
    ("code", "good", "bad"),
    [
        ("ZTO", "73100000000001", "72100000000001"),
        ("YTO", "YT1234567890123", "YT123"),
        ("JT", "JT1234567890123", "JT12345678901234"),
        ("SF", "SF1234567890123", "SX1234567890123"),
        ("JD", "JDVA12345678901", "JD12345678901"),
        ("DEPPON", "DPK123456789012", "DP123456789012"),
    ],
)
def test_number_formats(db, code, good, bad):
    from carriers.catalog import number_matches
    from carriers.models import Carrier

    pattern = Carrier.objects.get(code=code).number_pattern
    assert number_matches(pattern, good) and not number_matches(pattern, bad)


def test_seed_gives_every_carrier_a_branch_in_every_province(branches):
    from shops import regions

    assert Branch.objects.count() == 12 * len(regions.provinces())
    assert demo_branches_create() == 0  # idempotent
    assert not Address.objects.exists()


def test_ops_approve_and_recharge_in_the_admin(admin_client, shop_a, branches):
    sub = _apply(shop_a)
    url = "/admin/carriers/subscription/"
    admin_client.post(url, {"action": "approve", "_selected_action": [sub.pk]})
    admin_client.post(url, {"action": "recharge_1000", "_selected_action": [sub.pk]})
    sub.refresh_from_db()
    assert sub.status == "active" and sub.balance == 1000
    assert LedgerEntry.objects.get(subscription=sub).actor == "user:admin"


def test_region_search_lists_only_branches_located_there(shop_a, branches):
    api = token_client(shop_a)
    tibet = api.get("/api/v1/branches/", {"province": "西藏自治区"}).json()
    assert tibet["count"] == 12
    assert {b["province"] for b in tibet["results"]} == {"西藏自治区"}


def test_ledger_names_the_branch_not_its_key(shop_a, branches):
    sub = _apply(shop_a)
    api = _branch_api(sub)
    api.post(f"/api/v1/carrier/subscriptions/{sub.pk}/approve/")
    api.post(f"/api/v1/carrier/subscriptions/{sub.pk}/recharge/", {"count": 5}, format="json")
    entry = LedgerEntry.objects.get(subscription=sub)
    assert entry.actor == f"branch:ZTO-{sub.branch.code}"
    from shops.models import ApiToken

    assert ApiToken.objects.get(branch=sub.branch).prefix not in entry.actor
