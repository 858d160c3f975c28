"""The carriers' own refusals, word for word (seed 000), through the built-in gateway's
fault switches: each has a stable code, the exact Chinese text a merchant knows, and its
English translation; a refused allocation draws nothing and charges nothing."""

import pytest

from carriers.gateways import gateway_for
from carriers.gateways.base import IssueRequest, Receiver
from carriers.models import Branch, Subscription
from tests.conftest import make_order, token_client
from tests.waybills.conftest import open_service
from waybill_console.errors import AppError
from waybills.models import Waybill

pytestmark = pytest.mark.django_db

#: (fault switch, carrier whose message it is, open-service extras, code, zh, en)
MESSAGES = [
    (
        "address_unparseable",
        "ZTO",
        {},
        "ADDRESS_UNPARSEABLE",
        "筛单出错（1014）GIS地址解析失败",
        "Screening error (1014): GIS address parsing failed.",
    ),
    (
        "service_not_opened",
        "SF",
        {"monthly_account": "0571123456"},
        "SERVICE_NOT_OPENED",
        "8057快件类型为空或未配置",
        "(8057) The express type is empty or not configured.",
    ),
    (
        "monthly_account_invalid",
        "STO",
        {},
        "MONTHLY_ACCOUNT_INVALID",
        "商家编码不存在/月结账号失效，请与物流公司核实",
        "The merchant code does not exist or the monthly account is invalid; check with the "
        "logistics company.",
    ),
    (
        "secret_key_missing",
        "YUNDA",
        {"secret_key": "yd-key-1"},
        "SECRET_KEY_MISSING",
        "该客户没有生成秘钥，请联系负责网点生成秘钥后重试",
        "No secret key was generated for this customer; ask the branch to generate one "
        "and try again.",
    ),
    (
        "configuration_required",
        "YUNDA",
        {"secret_key": "yd-key-1"},
        "CARRIER_CONFIGURATION_REQUIRED",
        "请联系韵达总部进行相关配置",
        "Contact Yunda headquarters for the related configuration.",
    ),
    (
        "merchant_code_mismatch",
        "JD",
        {"monthly_account": "010JD0001"},
        "MERCHANT_CODE_MISMATCH",
        "商家编码与JosPIn：值点不匹配",
        "The merchant code does not match the JosPin value point.",
    ),
    (
        "provider_creation_failed",
        "STO",
        {},
        "SERVICE_PROVIDER_CREATION_FAILED",
        "创建服务商失败",
        "Creating the service provider failed.",
    ),
]
IDS = [m[0] for m in MESSAGES]


def _state(sub):
    row = Subscription.objects.get(pk=sub.pk)
    return row.balance, row.allocated_total, Waybill.objects.count()


@pytest.mark.parametrize(("fault", "carrier", "extra", "code", "zh", "en"), MESSAGES, ids=IDS)
def test_allocation_answers_the_carriers_message_word_for_word(
    shop_a, fault, carrier, extra, code, zh, en
):
    sub = open_service(shop_a, carrier, balance=10, **extra)
    order = make_order(shop_a)
    Branch.objects.filter(pk=sub.branch_id).update(fault=fault)
    before = _state(sub)

    for language, message in (("zh-hans", zh), ("en", en)):
        response = token_client(shop_a, language=language).post(
            "/api/v1/waybills/",
            {"order": order.pk, "subscription": sub.pk},
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"{fault}-{language}",
        )
        assert response.status_code == 422
        body = response.json()
        assert (body["code"], body["message"]) == (code, message)
    # the default language is Chinese: no Accept-Language at all
    response = token_client(shop_a).post(
        "/api/v1/waybills/", {"order": order.pk, "subscription": sub.pk}, format="json"
    )
    assert (response.json()["code"], response.json()["message"]) == (code, zh)

    assert _state(sub) == before
    assert not Waybill.objects.filter(order=order).exists()
    order.refresh_from_db()
    assert order.status == "paid" and not order.tracking_no


@pytest.mark.parametrize(("fault", "carrier", "extra", "code", "zh", "en"), MESSAGES, ids=IDS)
def test_every_gateway_call_answers_the_switched_fault(shop_a, fault, carrier, extra, code, zh, en):
    sub = open_service(shop_a, carrier, balance=10, **extra)
    Branch.objects.filter(pk=sub.branch_id).update(fault=fault)
    sub.branch.refresh_from_db()
    gateway = gateway_for(carrier)
    for call in (
        lambda: gateway.screen(
            subscription=sub, receiver=Receiver("浙江省", "杭州市", "西湖区", "文三路 90 号")
        ),
        lambda: gateway.issue(
            IssueRequest("MSG-1", sub, {}, Receiver("浙江省", "杭州市", "西湖区", None))
        ),
        lambda: gateway.cancel(subscription=sub, waybill_no="0"),
    ):
        with pytest.raises(AppError) as refused:
            call()
        assert (refused.value.code, refused.value.status) == (code, 422)


def test_every_fault_switch_is_a_branch_choice():
    from carriers.gateways.builtin import FAULTS, ISSUE_FAULTS

    choices = {value for value, _ in Branch._meta.get_field("fault").choices if value}
    assert choices == set(FAULTS) | ISSUE_FAULTS
