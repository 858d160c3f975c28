"""Carrier catalog, branch search and subscriptions, scoped to the actor."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from carriers.models import (
    Branch,
    Carrier,
    LedgerEntry,
    NetworkType,
    Subscription,
    SubscriptionStatus,
)
from carriers.quota.cancel_cap import cancellable_now  # noqa: F401 (per branch: the quota's)
from shops import regions
from shops.models import Membership, Shop
from waybill_console.errors import NotFound
from waybill_console.tenancy import Actor


def carrier_list() -> QuerySet[Carrier]:
    return Carrier.objects.order_by("code")


_names: dict[str, str] = {}


def carrier_name(code: str) -> str:
    """A carrier's name (中通快递) for its code (ZTO), as lists and history show it; an
    unknown code is shown as given. The catalog is read once per process (and again when a
    code is missing from it)."""
    code = (code or "").strip().upper()
    if code and code not in _names:
        _names.update(Carrier.objects.values_list("code", "name"))
    return _names.get(code, code)


def account_fields(*, carrier: Carrier) -> dict[str, bool]:
    """Which of the merchant's account fields opening a service with ``carrier`` asks for:
    what the carrier always needs, and what the gateway ops connected it through orders
    numbers on (``account_fields`` of the adapter: Kuaidi100's partner account is the
    merchant's 月结账号 / 密钥 from the branch; SF's monthly card)."""
    from carriers.gateways import gateway_for

    asks = getattr(gateway_for(carrier.code), "account_fields", frozenset())
    return {
        "monthly_account": carrier.needs_monthly_account or "monthly_account" in asks,
        "secret_key": carrier.needs_secret_key or "secret_key" in asks,
    }


def _region_prefix(province: str, city: str, district: str) -> str:
    """The code prefix of the most specific region given (names or codes)."""
    p, c, d = regions.resolve(province or "", city or "", district or "")
    most_specific = d or c or p
    return regions.code_prefix(most_specific) if most_specific else ""


def branch_search(
    *, carrier: str = "", province: str = "", city: str = "", district: str = "", q: str = ""
) -> QuerySet[Branch]:
    """By region (names or division codes), fuzzy by name or code; region-only works too."""
    qs = Branch.objects.select_related("carrier")
    if carrier:
        qs = qs.filter(carrier__code=carrier.upper())
    prefix = _region_prefix(province, city, district)
    if (province or city or district) and not prefix:
        return qs.none()
    if prefix:
        qs = qs.filter(region_code__startswith=prefix)  # branches located in the region
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(code__icontains=q))
    return qs.order_by("carrier__code", "code")


def subscription_list(*, actor: Actor) -> QuerySet[Subscription]:
    shop = actor.require_shop()
    return (
        Subscription.objects.filter(Q(shop=shop) | Q(shared_with=shop))
        .distinct()
        .select_related("carrier", "branch", "address")
        .order_by("carrier__code", "id")
    )


#: a franchise service with fewer numbers left warns: 单号余额不足,请尽快联系网点申购
LOW_BALANCE = 100
#: the statuses a service draws numbers in
DRAWING_STATUSES = (SubscriptionStatus.ACTIVE, SubscriptionStatus.EXPIRING)


def balance_is_low(sub: Subscription) -> bool:
    """An active franchise service under :data:`LOW_BALANCE` numbers (a direct carrier
    bills a monthly account: no balance to run out of)."""
    return (
        sub.carrier.network_type == NetworkType.FRANCHISE
        and sub.status == SubscriptionStatus.ACTIVE
        and sub.balance < LOW_BALANCE
    )


def subscription_balance_list(*, actor: Actor) -> QuerySet[Subscription]:
    """概览's balances: the services the shop draws numbers from now (its own and those
    shared with it, active or expiring), with carrier and branch; one query on the
    subscription's shop index."""
    return subscription_list(actor=actor).filter(status__in=DRAWING_STATUSES)


def subscription_get(*, actor: Actor, subscription_id: int) -> Subscription:
    sub = subscription_list(actor=actor).filter(pk=subscription_id).first()
    if sub is None:
        raise NotFound()
    return sub


def subscription_get_for_branch(*, actor: Actor, subscription_id: int) -> Subscription:
    """The branch side sees only applications made to its own branch."""
    sub = Subscription.objects.filter(pk=subscription_id, branch=actor.branch).first()
    if sub is None:
        raise NotFound()
    return sub


def share_candidates(*, subscription: Subscription) -> QuerySet[Shop]:
    """共享多店发货: the shops ``subscription`` may be shared with, the owner's other active
    shops (those whose main account is the main account of the subscription's shop)."""
    owners = Membership.objects.filter(
        shop_id=subscription.shop_id, role=Membership.Role.MAIN
    ).values("user_id")
    return (
        Shop.objects.filter(
            is_active=True,
            memberships__role=Membership.Role.MAIN,
            memberships__user_id__in=owners,
        )
        .exclude(pk=subscription.shop_id)
        .distinct()
        .order_by("shop_no")
    )


def ledger_list(*, subscription: Subscription) -> QuerySet[LedgerEntry]:
    return subscription.ledger.order_by("-at", "-id")


def gateway_for_push_token(token: str):
    """The SF gateway whose push secret is ``token`` (compared in constant time, every
    configured secret tried, so the time does not say which one matched); None when none
    does. SF signs nothing: the secret in the push URL is the credential."""
    import hmac

    from carriers.models import GatewayConfig
    from waybill_console.crypto import open_secret

    found = None
    if not token:
        return None
    for config in GatewayConfig.objects.filter(kind=GatewayConfig.Kind.SF):
        secret = open_secret(config.callback_salt)
        if secret and hmac.compare_digest(token.encode(), secret.encode()):
            found = config
    return found


def branch_names(*, values: list[str], shop=None) -> dict[str, str]:
    """``branch:ZTO-331001`` actor strings (values ``ZTO-331001``) by the branch's name:
    who recharged or approved, as ledgers and history show it."""
    wanted = [v.partition("-") for v in values]
    codes = {code for _carrier, _dash, code in wanted}
    found = {
        f"{carrier}-{code}": name
        for carrier, code, name in Branch.objects.filter(code__in=codes).values_list(
            "carrier__code", "code", "name"
        )
    }
    return {v: found.get(v, v.partition("-")[0]) for v in values}
