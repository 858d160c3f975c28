"""Dropship identity (merchant or factory) and merchant–factory bindings."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dropship.errors import (
    BindingExists,
    BindingNotActive,
    BindingStateConflict,
    IdentityLocked,
    NotAFactory,
    NotAMerchant,
)
from dropship.models import OPEN_BINDING, Binding, BindingStatus, DropshipProfile
from dropship.services import outbox
from shops.models import Shop
from waybill_console import permissions as perms
from waybill_console.errors import NotFound, ValidationError
from waybill_console.tenancy import Actor

MERCHANT = DropshipProfile.Identity.MERCHANT
FACTORY = DropshipProfile.Identity.FACTORY

PROFILE_TEXT_FIELDS = {
    "display_name": 60,
    "sender_name": 40,
    "sender_phone": 20,
    "sender_province": 20,
    "sender_city": 30,
    "sender_district": 30,
    "sender_detail": 120,
}


MERCHANT_REQUIRED = ("display_name", "sender_name", "sender_phone")


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def profile_for(shop: Shop) -> DropshipProfile:
    """The shop's profile (a merchant until it chooses otherwise)."""
    profile = DropshipProfile.objects.filter(shop=shop).first()
    return profile or DropshipProfile(shop=shop, identity=MERCHANT)


def identity_locked(shop: Shop) -> bool:
    """Locked once the shop has sent or received a binding request (whatever became of it)."""
    return Binding.objects.filter(Q(merchant=shop) | Q(factory=shop)).exists()


def require_identity(actor: Actor, identity: str) -> Shop:
    """The actor's shop, if it has ``identity`` and the dropship permission."""
    actor.require(perms.DROPSHIP_MANAGE)
    shop = actor.require_shop()
    if profile_for(shop).identity != identity:
        raise NotAMerchant(identity=DropshipProfile.Identity(identity).label)
    return shop


def profile_update(*, actor: Actor, data: dict) -> DropshipProfile:
    """Choose the identity and (merchant) the dropship name and sender the factories see."""
    actor.require(perms.DROPSHIP_MANAGE)
    shop = actor.require_shop()
    errors: dict[str, str] = {}
    clean: dict[str, str] = {}
    identity = data.get("identity")
    if identity is not None and identity not in DropshipProfile.Identity.values:
        errors["identity"] = str(_("Either merchant or factory."))
    for name, limit in PROFILE_TEXT_FIELDS.items():
        if name in data:
            value = data.get(name)
            if value is None:
                value = ""
            if not isinstance(value, str):
                errors[name] = str(_("Text."))
                continue
            value = value.strip()
            if len(value) > limit:
                errors[name] = str(_("At most %(n)s characters.") % {"n": limit})
            clean[name] = value
    if errors:
        raise ValidationError.for_fields(**errors)
    with transaction.atomic():
        profile, _created = DropshipProfile.objects.select_for_update().get_or_create(shop=shop)
        if identity is not None and identity != profile.identity:
            if identity_locked(shop):
                raise IdentityLocked(detail={"identity": profile.identity})
            profile.identity = identity
        for name, value in clean.items():
            setattr(profile, name, value)
        if profile.identity == MERCHANT:
            # 填写店铺名、发货人、地址等相关信息并确认: what the factories print as the sender
            missing = {
                n: str(_("Required for a merchant."))
                for n in MERCHANT_REQUIRED
                if not getattr(profile, n)
            }
            if missing:
                raise ValidationError.for_fields(**missing)
        profile.save()
    return profile


# --- bindings -------------------------------------------------------------------------------


def binding_request(*, actor: Actor, factory_shop_no: str, now: datetime | None = None) -> Binding:
    """The merchant asks a factory (by its shop number) to bind. Asking again while a
    request is pending or the binding is active is refused (BINDING_EXISTS)."""
    merchant = require_identity(actor, MERCHANT)
    shop_no = str(factory_shop_no or "").strip()
    if not shop_no:
        raise ValidationError.for_fields(factory_shop_no=_("The factory's shop number."))
    factory = Shop.objects.filter(shop_no=shop_no, is_active=True).first()
    if factory is None or factory.pk == merchant.pk or profile_for(factory).identity != FACTORY:
        raise NotAFactory(shop_no=shop_no, detail={"factory_shop_no": shop_no})
    at = _now(now)
    try:
        with transaction.atomic():
            # both identities, locked (the lock profile_update takes): a switch at the same
            # moment either waits and then sees this request (identity locked), or is seen
            # here (not a factory / not a merchant any more)
            locked = {
                p.shop_id: p.identity
                for p in DropshipProfile.objects.select_for_update()
                .filter(shop_id__in=(merchant.pk, factory.pk))
                .order_by("shop_id")
            }
            if locked.get(factory.pk) != FACTORY:
                raise NotAFactory(shop_no=shop_no, detail={"factory_shop_no": shop_no})
            if locked.get(merchant.pk, MERCHANT) != MERCHANT:
                raise NotAMerchant(identity=DropshipProfile.Identity.MERCHANT.label)
            binding = Binding.objects.create(
                merchant=merchant,
                factory=factory,
                requested_at=at,
                actor=actor.describe()[:60],
            )
            outbox.binding_requested_emit(binding)
            return binding
    except IntegrityError:  # already pending or active: the unique open binding says so
        status = (
            Binding.objects.filter(merchant=merchant, factory=factory, status__in=OPEN_BINDING)
            .values_list("status", flat=True)
            .first()
        ) or BindingStatus.ACTIVE
        pending = status == BindingStatus.PENDING
        raise BindingExists(
            BindingExists.pending_message if pending else None, detail={"status": status}
        ) from None


def _binding_for(actor: Actor, binding_id: int, *, side: str) -> Binding:
    shop = require_identity(actor, side)
    scope = {"merchant": shop} if side == MERCHANT else {"factory": shop}
    binding = Binding.objects.select_for_update().filter(pk=binding_id, **scope).first()
    if binding is None:
        raise NotFound()
    return binding


def _move(binding: Binding, allowed: tuple, **changes) -> Binding:
    if binding.status not in allowed:
        raise BindingStateConflict(
            status=binding.get_status_display(), detail={"status": binding.status}
        )
    for name, value in changes.items():
        setattr(binding, name, value)
    binding.save()
    return binding


def binding_confirm(*, actor: Actor, binding_id: int, now: datetime | None = None) -> Binding:
    with transaction.atomic():
        binding = _binding_for(actor, binding_id, side=FACTORY)
        return _move(
            binding, (BindingStatus.PENDING,), status=BindingStatus.ACTIVE, confirmed_at=_now(now)
        )


def binding_reject(*, actor: Actor, binding_id: int, now: datetime | None = None) -> Binding:
    with transaction.atomic():
        binding = _binding_for(actor, binding_id, side=FACTORY)
        return _move(
            binding,
            (BindingStatus.PENDING,),
            status=BindingStatus.REJECTED,
            ended_at=_now(now),
            ended_by=FACTORY,
        )


def binding_unbind(*, actor: Actor, binding_id: int, now: datetime | None = None) -> Binding:
    """Either side ends the binding (or the merchant withdraws its request). Open
    allocations the factory has not returned a number for are cancelled with it."""
    from dropship.services.allocation import allocations_cancel_for_pair

    actor.require(perms.DROPSHIP_MANAGE)
    shop = actor.require_shop()
    at = _now(now)
    with transaction.atomic():
        binding = (
            Binding.objects.select_for_update()
            .filter(Q(merchant=shop) | Q(factory=shop), pk=binding_id)
            .first()
        )
        if binding is None:
            raise NotFound()
        side = MERCHANT if binding.merchant_id == shop.pk else FACTORY
        _move(binding, OPEN_BINDING, status=BindingStatus.UNBOUND, ended_at=at, ended_by=side)
        allocations_cancel_for_pair(
            merchant_id=binding.merchant_id, factory_id=binding.factory_id, reason="unbound", at=at
        )
    return binding


def active_binding(*, merchant_id: int, factory_id: int, lock: bool = False) -> Binding:
    qs = Binding.objects.filter(
        merchant_id=merchant_id, factory_id=factory_id, status=BindingStatus.ACTIVE
    )
    if lock:
        qs = qs.select_for_update()
    binding = qs.first()
    if binding is None:
        raise BindingNotActive()  # no ids in the answer: the factory reads it too
    return binding
