"""Reads, always scoped to the actor's shop."""

from __future__ import annotations

import hashlib

from django.db.models import QuerySet
from django.utils import timezone

from shops.models import ApiToken, Membership, Order
from waybill_console.crypto import blind_index
from waybill_console.errors import NotFound
from waybill_console.tenancy import Actor


def membership_list_for_user(*, user) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(user=user, is_active=True, shop__is_active=True)
        .select_related("shop", "shop__dropship_profile")
        .order_by("shop__shop_no")
    )


def membership_for_session(*, user, shop_id: int | None) -> Membership | None:
    """The membership of the shop the session switched to, else the user's first shop."""
    memberships = membership_list_for_user(user=user)
    if shop_id:
        chosen = memberships.filter(shop_id=shop_id).first()
        if chosen:
            return chosen
    return memberships.first()


def api_token_get_by_key(*, key: str) -> ApiToken | None:
    digest = hashlib.sha256(key.encode()).hexdigest()
    return (
        ApiToken.objects.select_related("shop", "branch", "branch__carrier")
        .filter(key_hash=digest, revoked_at__isnull=True)
        .first()
    )


def api_token_list(*, actor: Actor) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(shop=actor.require_shop(), revoked_at__isnull=True)


def order_list(*, actor: Actor, status: str | None = None, q: str | None = None) -> QuerySet[Order]:
    qs = Order.objects.filter(shop=actor.require_shop())
    if status:
        qs = qs.filter(status=status)
    if q:
        q = q.strip()
        digits = q.replace(" ", "").replace("-", "")
        if digits.isdigit() and len(digits) == 11:
            qs = qs.filter(receiver_phone_index=blind_index(digits)) | qs.filter(order_no=q)
        else:
            qs = qs.filter(order_no__icontains=q)
    return qs.prefetch_related("items")


def order_get(*, actor: Actor, order_id: int) -> Order:
    """Another shop's order is the same 404 as a missing one."""
    order = (
        Order.objects.filter(shop=actor.require_shop(), pk=order_id)
        .prefetch_related("items")
        .first()
    )
    if order is None:
        raise NotFound()
    return order


def now():
    return timezone.now()
