"""Opening e-waybill service (开通电子面单服务), the branch side, and the quota ledger.

Rules: one branch per shipping address per carrier (a partial unique constraint, so two
concurrent applications cannot both pass); at most 100 branches per carrier per shop
(checked with the shop row locked); monthly account / secret key where the carrier needs
them; an expiring service can neither be the default nor be re-applied.
Every quota movement is a ledger entry written in the same transaction as the counters.
A subscription's secret key is encrypted at rest and never shown again.

Which gateway answers for a carrier (the built-in sandbox, Kuaidi100, SF) and the
operator's account with it: :func:`gateway_configure`, shared by the admin and
``manage.py carrier_gateway``.
"""

from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from carriers.errors import (
    BranchPerAddressLimit,
    BranchPerCarrierLimit,
    MonthlyAccountInvalid,
    SecretKeyMissing,
    ShareMainAccountOnly,
    SubscriptionExpiring,
    SubscriptionNotActive,
)
from carriers.models import Branch, Carrier, GatewayConfig, LedgerEntry, Subscription
from carriers.models import SubscriptionStatus as St
from carriers.quota import ledger_check, ledger_post  # noqa: F401 (the public door)
from carriers.selectors import share_candidates
from shops.models import Address, Shop
from waybill_console import permissions as perms
from waybill_console.crypto import Sealed, encrypt
from waybill_console.errors import NotFound, PermissionDenied, ValidationError
from waybill_console.tenancy import Actor

BRANCH_PER_CARRIER_LIMIT = 100
LIVE = (St.PENDING_REVIEW, St.ACTIVE, St.EXPIRING)


def subscription_apply(
    *,
    actor: Actor,
    carrier: str,
    branch: str,
    address: int,
    contact_name: str,
    contact_phone: str,
    agree: bool,
    monthly_account: str = "",
    secret_key: str = "",
) -> Subscription:
    actor.require(perms.WAYBILL_OPEN)
    shop = actor.require_shop()
    errors = {}
    carrier_obj = Carrier.objects.filter(code=(carrier or "").upper()).first()
    if carrier_obj is None:
        errors["carrier"] = gettext("Unknown carrier code.")
    branch_obj = (
        Branch.objects.filter(carrier=carrier_obj, code=branch).first() if carrier_obj else None
    )
    if carrier_obj and branch_obj is None:
        errors["branch"] = gettext("Not a branch of this carrier.")
    address_obj = Address.objects.filter(shop=shop, pk=address).first() if address else None
    if address_obj is None:
        errors["address"] = gettext("Not one of this shop's shipping addresses.")
    if not (contact_name or "").strip():
        errors["contact_name"] = gettext("This field is required.")
    if not (contact_phone or "").strip():
        errors["contact_phone"] = gettext("This field is required.")
    if agree is not True:
        errors["agree"] = gettext("The e-waybill service agreement must be accepted.")
    if errors:
        raise ValidationError.for_fields(**errors)
    if carrier_obj.needs_monthly_account and not (monthly_account or "").strip():
        raise MonthlyAccountInvalid(
            detail={"monthly_account": [gettext("This carrier requires it.")]}
        )
    secret_key = (secret_key or "").strip()
    if carrier_obj.needs_secret_key and not secret_key:
        raise SecretKeyMissing(detail={"secret_key": [gettext("This carrier requires it.")]})
    if len(secret_key) > 80:
        raise ValidationError.for_fields(secret_key=gettext("At most 80 characters."))
    try:
        with transaction.atomic():
            Shop.objects.select_for_update().filter(pk=shop.pk).first()
            if Subscription.objects.filter(
                shop=shop, carrier=carrier_obj, address=address_obj, status__in=LIVE
            ).exists():
                raise BranchPerAddressLimit()
            branches = (
                Subscription.objects.filter(shop=shop, carrier=carrier_obj, status__in=LIVE)
                .values("branch")
                .distinct()
                .count()
            )
            if branches >= BRANCH_PER_CARRIER_LIMIT:
                raise BranchPerCarrierLimit(limit=BRANCH_PER_CARRIER_LIMIT)
            return Subscription.objects.create(
                shop=shop,
                carrier=carrier_obj,
                branch=branch_obj,
                address=address_obj,
                contact_name=contact_name.strip()[:40],
                contact_phone=contact_phone.strip()[:20],
                monthly_account=(monthly_account or "").strip(),
                # sealed before it is saved: not even this instance holds it in clear
                secret_key=Sealed(encrypt(secret_key)) if secret_key else "",
                agreed_at=timezone.now(),
            )
    except IntegrityError:
        raise BranchPerAddressLimit() from None


def _locked(sub: Subscription) -> Subscription:
    return Subscription.objects.select_for_update().get(pk=sub.pk)


def _move(sub: Subscription, allowed: tuple, target: str, **fields) -> Subscription:
    with transaction.atomic():
        sub = _locked(sub)
        if sub.status not in allowed:
            if sub.status == St.EXPIRING:
                raise SubscriptionExpiring()
            raise SubscriptionNotActive(
                status=sub.get_status_display(), detail={"status": sub.status}
            )
        sub.status = target
        for k, v in fields.items():
            setattr(sub, k, v)
        if target != St.ACTIVE:
            sub.is_default = False
        sub.save()
        if (
            target == St.ACTIVE
            and not Subscription.objects.filter(
                shop_id=sub.shop_id, carrier_id=sub.carrier_id, is_default=True
            ).exists()
        ):
            Subscription.objects.filter(pk=sub.pk).update(is_default=True)
            sub.is_default = True
    return sub


def _require_branch(actor: Actor, sub: Subscription) -> None:
    if not actor.is_staff and (actor.branch is None or actor.branch.pk != sub.branch_id):
        raise PermissionDenied()


def subscription_approve(*, actor: Actor, subscription: Subscription) -> Subscription:
    _require_branch(actor, subscription)
    return _move(subscription, (St.PENDING_REVIEW,), St.ACTIVE, reject_reason="")


def subscription_reject(
    *, actor: Actor, subscription: Subscription, reason: str = ""
) -> Subscription:
    _require_branch(actor, subscription)
    return _move(subscription, (St.PENDING_REVIEW,), St.REJECTED, reject_reason=reason[:200])


def subscription_mark_expiring(*, actor: Actor, subscription: Subscription) -> Subscription:
    _require_branch(actor, subscription)
    return _move(subscription, (St.ACTIVE,), St.EXPIRING)


def subscription_cancel(*, actor: Actor, subscription: Subscription) -> Subscription:
    actor.require(perms.WAYBILL_OPEN)
    _own(actor, subscription)
    return _move(subscription, (St.PENDING_REVIEW, St.ACTIVE, St.EXPIRING), St.CANCELLED)


def subscription_reapply(*, actor: Actor, subscription: Subscription) -> Subscription:
    """A rejected application goes back to review (an expiring one must be cancelled)."""
    actor.require(perms.WAYBILL_OPEN)
    _own(actor, subscription)
    try:
        return _move(subscription, (St.REJECTED,), St.PENDING_REVIEW, reject_reason="")
    except IntegrityError:
        raise BranchPerAddressLimit() from None


def subscription_set_default(*, actor: Actor, subscription: Subscription) -> Subscription:
    actor.require(perms.WAYBILL_OPEN)
    _own(actor, subscription)
    with transaction.atomic():
        sub = _locked(subscription)
        if sub.status == St.EXPIRING:
            raise SubscriptionExpiring()
        if sub.status != St.ACTIVE:
            raise SubscriptionNotActive(status=sub.get_status_display())
        Subscription.objects.filter(
            shop_id=sub.shop_id, carrier_id=sub.carrier_id, is_default=True
        ).exclude(pk=sub.pk).update(is_default=False)
        sub.is_default = True
        sub.save(update_fields=["is_default", "updated_at"])
    return sub


def subscription_share_check(*, actor: Actor, subscription: Subscription) -> None:
    """Refuse unless ``actor`` may share ``subscription``: the main account of the shop
    that opened it (a shop it is shared with cannot pass it on)."""
    actor.require(perms.WAYBILL_OPEN)
    if not actor.has(perms.ACCOUNT_MANAGE):
        raise ShareMainAccountOnly()
    _own(actor, subscription)


def subscription_share(
    *, actor: Actor, subscription: Subscription, shop_nos: list[str]
) -> Subscription:
    """共享多店发货: share ``subscription`` with exactly ``shop_nos`` (an empty list unshares
    every shop), each one of the owner's other shops (:func:`share_candidates`).

    Main account only (:data:`~waybill_console.permissions.ACCOUNT_MANAGE`, which a
    sub-account can never be granted). A shop number that is not one of the owner's
    shops, whether it exists or not, is ``NOT_FOUND`` and nothing changes. The
    subscription row is locked while its shops are replaced."""
    subscription_share_check(actor=actor, subscription=subscription)
    wanted = {str(n).strip() for n in shop_nos} - {subscription.shop.shop_no}
    with transaction.atomic():
        sub = _locked(subscription)
        shops = list(share_candidates(subscription=sub).filter(shop_no__in=wanted))
        missing = wanted - {s.shop_no for s in shops}
        if missing:
            raise NotFound(detail={"shops": sorted(missing)})
        sub.shared_with.set(shops)
    return sub


def _own(actor: Actor, sub: Subscription) -> None:
    if sub.shop_id != actor.require_shop().pk:
        raise PermissionDenied()


def subscription_recharge(*, actor: Actor, subscription: Subscription, count: int) -> LedgerEntry:
    """The branch recharges a franchise subscription's prepaid balance."""
    _require_branch(actor, subscription)
    if not isinstance(count, int) or count <= 0 or count > 1_000_000:
        raise ValidationError.for_fields(count=gettext("A whole number from 1 to 1,000,000."))
    subscription.refresh_from_db(fields=["status"])
    if subscription.carrier.network_type != "franchise":
        raise ValidationError.for_fields(
            count=gettext("Direct carriers draw on the monthly account, not a prepaid balance.")
        )
    if subscription.status not in (St.ACTIVE, St.EXPIRING):
        raise SubscriptionNotActive(status=subscription.get_status_display())
    return ledger_post(
        subscription=subscription, kind=LedgerEntry.Kind.RECHARGE, amount=count, actor=actor
    )


# --- carrier gateways (ops: the admin and ``manage.py carrier_gateway``) -----------------

Kind = GatewayConfig.Kind
#: an adapter's order URL and tracking subscription URL when ops give none
GATEWAY_DEFAULT_URLS = {
    Kind.KUAIDI100: ("https://api.kuaidi100.com/label/order", "https://poll.kuaidi100.com/poll"),
    Kind.SF: ("https://bspgw.sf-express.com/std/service", ""),
}
_URL = URLValidator(schemes=["https", "http"])


def _gateway_url(value: str, field: str, errors: dict) -> str:
    value = value.strip()
    try:
        _URL(value)
    except DjangoValidationError:
        errors[field] = gettext("Enter a full http(s) URL.")
    if len(value) > 200:
        errors[field] = gettext("At most 200 characters.")
    return value


def gateway_config_check(
    *,
    carrier: str,
    kind: str,
    key: str | None = None,
    secret: str | None = None,
    url: str | None = None,
    poll_url: str | None = None,
    callback_salt: str | None = None,
) -> dict:
    """The values the gateway configuration of ``carrier`` takes, or ValidationError naming
    each field at fault (nothing saved). Called by :func:`gateway_configure` and by the
    admin form before it saves.

    ``None`` (or an empty secret) keeps the current value while the kind stays the same:
    a secret is never shown again, so leaving it empty means "unchanged". ``key`` and
    ``secret`` are required for Kuaidi100 (key, secret) and SF (partnerID, checkWord);
    an empty ``url``/``poll_url`` is the adapter's default. The push salt: Kuaidi100 is told
    it when we subscribe, so a random one is made up when ops give none; SF's push is
    authenticated by it as a token in the push URL that ops give SF, so ops choose it (none:
    SF pushes are refused). ``builtin`` clears every credential."""
    errors: dict[str, str] = {}
    carrier_obj = Carrier.objects.filter(code=(carrier or "").strip().upper()).first()
    if carrier_obj is None:
        raise ValidationError.for_fields(carrier=gettext("Unknown carrier code."))
    if kind not in Kind.values:
        raise ValidationError.for_fields(
            kind=gettext("Choose one of: %(kinds)s.") % {"kinds": ", ".join(Kind.values)}
        )
    cleared = dict.fromkeys(("key", "secret", "url", "poll_url", "callback_salt"), "")
    if kind == Kind.BUILTIN:
        return {"carrier": carrier_obj, "kind": kind, **cleared}
    current = GatewayConfig.objects.filter(carrier=carrier_obj).first()
    same = current is not None and current.kind == kind
    values = {"carrier": carrier_obj, "kind": kind}
    values["key"] = (key if key is not None else (current.key if same else "")).strip()
    if not values["key"]:
        errors["key"] = gettext("This gateway needs its account key.")
    elif len(values["key"]) > 64:
        errors["key"] = gettext("At most 64 characters.")
    if (secret or "").strip():
        values["secret"] = secret.strip()
    elif same and current.secret:
        values["secret"] = current.secret  # kept sealed
    else:
        errors["secret"] = gettext("This gateway needs its secret.")
    default_url, default_poll_url = GATEWAY_DEFAULT_URLS[kind]
    if url is None and same and current.url:
        url = current.url
    values["url"] = _gateway_url(url or default_url, "url", errors)
    if kind == Kind.SF:
        if (poll_url or "").strip():
            errors["poll_url"] = gettext("Only Kuaidi100 takes a tracking subscription URL.")
        values["poll_url"] = ""
    else:
        if poll_url is None and same and current.poll_url:
            poll_url = current.poll_url
        values["poll_url"] = _gateway_url(poll_url or default_poll_url, "poll_url", errors)
    if (callback_salt or "").strip():
        values["callback_salt"] = callback_salt.strip()
    elif same and current.callback_salt:
        values["callback_salt"] = current.callback_salt
    elif kind == Kind.KUAIDI100:  # we tell Kuaidi100 the salt when we subscribe
        values["callback_salt"] = secrets.token_urlsafe(24)
    else:  # SF's push URL carries it: ops choose it and give SF that URL
        values["callback_salt"] = ""
    if errors:
        raise ValidationError.for_fields(**errors)
    return values


def gateway_configure(
    *,
    carrier: str,
    kind: str,
    key: str | None = None,
    secret: str | None = None,
    url: str | None = None,
    poll_url: str | None = None,
    callback_salt: str | None = None,
) -> GatewayConfig:
    """Set which gateway answers for ``carrier`` (rules: :func:`gateway_config_check`).
    Secrets are encrypted on save. This process uses the new configuration at once, the
    others within :data:`carriers.gateways.CONFIG_TTL` seconds."""
    fields = {
        "carrier": carrier,
        "kind": kind,
        "key": key,
        "secret": secret,
        "url": url,
        "poll_url": poll_url,
        "callback_salt": callback_salt,
    }
    for _try in range(2):  # a concurrent first configuration: the second try updates it
        try:
            with transaction.atomic():
                values = gateway_config_check(**fields)
                carrier_obj = values.pop("carrier")
                config = GatewayConfig.objects.select_for_update().filter(
                    carrier=carrier_obj
                ).first() or GatewayConfig(carrier=carrier_obj)
                for name, value in values.items():
                    setattr(config, name, value)
                config.save()
                return config
        except IntegrityError:
            continue
    raise IntegrityError("gateway configuration changed concurrently")


def gateway_key_masked(key: str) -> str:
    """A gateway account key as ops see it: its first and last two characters."""
    key = key or ""
    return f"{key[:2]}{'*' * (len(key) - 4)}{key[-2:]}" if len(key) > 6 else "*" * len(key)


def gateway_describe(*, carrier: str) -> dict:
    """The configuration of ``carrier`` as ops may see it: the account key masked, secrets
    only as set / not set."""
    carrier_obj = Carrier.objects.filter(code=(carrier or "").strip().upper()).first()
    if carrier_obj is None:
        raise ValidationError.for_fields(carrier=gettext("Unknown carrier code."))
    config = GatewayConfig.objects.filter(carrier=carrier_obj).first()
    if config is None:
        config = GatewayConfig(carrier=carrier_obj)
    return {
        "carrier": carrier_obj.code,
        "name": carrier_obj.name,
        "kind": config.kind,
        "key": gateway_key_masked(config.key),
        "secret": bool(config.secret),
        "url": config.url,
        "poll_url": config.poll_url,
        "callback_salt": bool(config.callback_salt),
        "updated_at": config.updated_at,
    }
