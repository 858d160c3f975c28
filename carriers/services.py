"""Opening e-waybill service (开通电子面单服务), the branch side, and the quota ledger.

Rules: one branch per shipping address per carrier (a partial unique constraint, so two
concurrent applications cannot both pass); at most 100 branches per carrier per shop
(checked with the shop row locked); monthly account / secret key where the carrier needs
them; an expiring service can neither be the default nor be re-applied.
Every quota movement is a ledger entry written in the same transaction as the counters.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from carriers.errors import (
    BranchPerAddressLimit,
    BranchPerCarrierLimit,
    MonthlyAccountInvalid,
    SecretKeyMissing,
    ShareMainAccountOnly,
    SubscriptionExpiring,
    SubscriptionNotActive,
)
from carriers.models import Branch, Carrier, LedgerEntry, Subscription
from carriers.models import SubscriptionStatus as St
from carriers.quota import ledger_check, ledger_post  # noqa: F401 (the public door)
from carriers.selectors import share_candidates
from shops.models import Address, Shop
from waybill_console import permissions as perms
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
        errors["carrier"] = "Unknown carrier code."
    branch_obj = (
        Branch.objects.filter(carrier=carrier_obj, code=branch).first() if carrier_obj else None
    )
    if carrier_obj and branch_obj is None:
        errors["branch"] = "Not a branch of this carrier."
    address_obj = Address.objects.filter(shop=shop, pk=address).first() if address else None
    if address_obj is None:
        errors["address"] = "Not one of this shop's shipping addresses."
    if not (contact_name or "").strip():
        errors["contact_name"] = "This field is required."
    if not (contact_phone or "").strip():
        errors["contact_phone"] = "This field is required."
    if agree is not True:
        errors["agree"] = "The e-waybill service agreement must be accepted."
    if errors:
        raise ValidationError.for_fields(**errors)
    if carrier_obj.needs_monthly_account and not (monthly_account or "").strip():
        raise MonthlyAccountInvalid(detail={"monthly_account": ["required by this carrier"]})
    if carrier_obj.needs_secret_key and not (secret_key or "").strip():
        raise SecretKeyMissing(detail={"secret_key": ["required by this carrier"]})
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
                secret_key=(secret_key or "").strip(),
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
        raise ValidationError.for_fields(count="A whole number from 1 to 1,000,000.")
    subscription.refresh_from_db(fields=["status"])
    if subscription.carrier.network_type != "franchise":
        raise ValidationError.for_fields(
            count="Direct carriers draw on the monthly account, not a prepaid balance."
        )
    if subscription.status not in (St.ACTIVE, St.EXPIRING):
        raise SubscriptionNotActive(status=subscription.get_status_display())
    return ledger_post(
        subscription=subscription, kind=LedgerEntry.Kind.RECHARGE, amount=count, actor=actor
    )
