"""Reads, always scoped to the actor's shop."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import Q, QuerySet, TextChoices
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from shops.errors import OrderBlocked
from shops.models import (
    Address,
    AfterSaleStatus,
    ApiToken,
    Membership,
    Order,
    OrderStatus,
    Shop,
)
from shops.services.order_states import AT_RISK_WINDOW, order_block
from waybill_console import inputs
from waybill_console import permissions as perms
from waybill_console.crypto import blind_index
from waybill_console.errors import NotFound, ValidationError
from waybill_console.registry import register_once, registered
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


_TOKEN_SQL = None


def api_token_get_by_digest(*, digest: str) -> ApiToken | None:
    """The live token whose key hashes to ``digest`` (the SHA-256 stored), with its shop;
    None for a revoked token or one of a deactivated shop. A branch token also gets its
    branch and carrier. One fixed statement, no ORM
    compilation. (API requests go through ``waybill_console.api_tokens``, which caches
    it per process.)"""
    from waybill_console import rawsql

    global _TOKEN_SQL
    if _TOKEN_SQL is None:
        _TOKEN_SQL = (
            f"SELECT {rawsql.columns(ApiToken, 't')}, {rawsql.columns(Shop, 's')} "  # nosec B608
            "FROM shops_apitoken t LEFT JOIN shops_shop s ON s.id = t.shop_id "
            "WHERE t.key_hash = %s AND t.revoked_at IS NULL"
            # a deactivated shop's tokens stop with it (a branch token has no shop)
            " AND (t.shop_id IS NULL OR s.is_active)"
        )
    with connection.cursor() as cur:
        rawsql.execute_prepared(cur, "wbc_token", _TOKEN_SQL, [digest])
        row = cur.fetchone()
    if row is None:
        return None
    (token, shop), _ = rawsql.split(row, [ApiToken, Shop])
    token.shop = shop
    if token.branch_id:
        from carriers.models import Branch

        token.branch = Branch.objects.select_related("carrier").get(pk=token.branch_id)
    else:
        token.branch = None
    return token


def api_token_list(*, actor: Actor) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(shop=actor.require_shop(), revoked_at__isnull=True)


class PrintStatus(TextChoices):
    """An order's print status (打印状态): how often the label of its number (the live parent
    package its mark shows) was printed. An order without a live number has none."""

    UNPRINTED = "unprinted", gettext_lazy("Not printed")
    PRINTED = "printed", gettext_lazy("Printed")
    REPRINTED = "reprinted", gettext_lazy("Reprinted")

    @classmethod
    def for_count(cls, print_count: int) -> PrintStatus:
        if print_count <= 0:
            return cls.UNPRINTED
        return cls.PRINTED if print_count == 1 else cls.REPRINTED

    @classmethod
    def count_lookup(cls, status: str) -> dict:
        """The status as a lookup on a ``print_count`` field (the same rule as
        :meth:`for_count`)."""
        return {
            cls.UNPRINTED: {"print_count": 0},
            cls.PRINTED: {"print_count": 1},
            cls.REPRINTED: {"print_count__gt": 1},
        }[cls(status)]


#: the print status, from the app that counts prints: ``waybills`` registers it in its
#: ``AppConfig.ready()`` (shops never imports it). ``orders(shop_id=, status=)``: the ids of
#: the shop's orders in that status, as a queryset (the list joins it as a subquery);
#: ``of(shop_id=, order_ids=)``: {order id: status} for those of the orders that have one.
_print_status: dict = {}


def register_print_status(*, orders, of) -> None:
    register_once(_print_status, "orders", orders, what="order print status")
    register_once(_print_status, "of", of, what="order print status")


def order_print_statuses(*, actor: Actor, order_ids: list[int]) -> dict[int, str]:
    """The print status of each of the shop's orders in ``order_ids`` that holds a live
    number (a page of the list: one query)."""
    shop = actor.require_shop()
    if not order_ids:
        return {}
    of = registered(_print_status, "of", what="order print status")
    return of(shop_id=shop.pk, order_ids=list(order_ids))


@dataclass
class OrderFilters:
    """The order list's filters, shared by the page, the API, exports and batch actions."""

    status: str = ""
    date_from: date | None = None
    date_to: date | None = None
    at_risk: bool = False
    carrier: str = ""
    has_waybill: bool | None = None
    is_dropship: bool | None = None
    after_sale: bool | None = None
    q: str = ""
    #: one of :class:`PrintStatus` (未打印 / 已打印 / 重打), or "" for any
    print_status: str = ""

    @classmethod
    def from_params(cls, params) -> OrderFilters:
        """From a query dict (page or API); bad values are reported by field."""
        errors = {}

        def day(name):
            value = (params.get(name) or "").strip()
            if not value:
                return None
            try:
                return inputs.parse_day(value)
            except ValueError:
                errors[name] = inputs.day_message()
                return None

        def yes_no(name):
            value = (params.get(name) or "").strip().lower()
            if value in ("", "all"):
                return None
            if value in ("1", "true", "yes"):
                return True
            if value in ("0", "false", "no"):
                return False
            errors[name] = gettext("Yes or no.")
            return None

        status = (params.get("status") or "").strip()
        if status and status not in OrderStatus.values:
            errors["status"] = gettext("Not one of the order statuses.")
        print_status = (params.get("print_status") or "").strip().lower()
        if print_status and print_status not in PrintStatus.values:
            errors["print_status"] = gettext("Not one of the print statuses.")
        filters = cls(
            status=status,
            date_from=day("date_from"),
            date_to=day("date_to"),
            at_risk=(params.get("at_risk") or "").lower() in ("1", "true", "yes", "on"),
            carrier=(params.get("carrier") or "").strip().upper(),
            has_waybill=yes_no("has_waybill"),
            is_dropship=yes_no("is_dropship"),
            after_sale=yes_no("after_sale"),
            q=(params.get("q") or "").strip(),
            print_status=print_status,
        )
        if errors:
            raise ValidationError.for_fields(**errors)
        return filters

    def as_params(self) -> dict:
        def yn(v):
            return "" if v is None else ("yes" if v else "no")

        return {
            "status": self.status,
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
            "at_risk": "1" if self.at_risk else "",
            "carrier": self.carrier,
            "has_waybill": yn(self.has_waybill),
            "is_dropship": yn(self.is_dropship),
            "after_sale": yn(self.after_sale),
            "q": self.q,
            "print_status": self.print_status,
        }


def _day_start(d: date):
    return timezone.make_aware(datetime.combine(d, time.min))


def default_return_address(*, actor: Actor):
    """The shop's default return address (the one the ship forms preselect), or None."""
    return address_list(actor=actor).filter(is_default_return=True).first()


def order_numbers(*, actor: Actor, ids) -> dict[int, str]:
    """The shop's order numbers of these order ids, by id (a job's results name orders by
    id); another shop's ids are left out."""
    return dict(order_list(actor=actor).filter(pk__in=list(ids)).values_list("pk", "order_no"))


def order_list(
    *,
    actor: Actor,
    filters: OrderFilters | None = None,
    status: str | None = None,
    q: str | None = None,
    now=None,
) -> QuerySet[Order]:
    f = filters or OrderFilters(status=status or "", q=q or "")
    shop = actor.require_shop()
    qs = Order.objects.filter(shop=shop)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.date_from:
        qs = qs.filter(created_at__gte=_day_start(f.date_from))
    if f.date_to:
        qs = qs.filter(created_at__lt=_day_start(f.date_to + timedelta(days=1)))
    if f.at_risk:
        qs = qs.filter(sla_due_at__lte=(now or timezone.now()) + AT_RISK_WINDOW)
    if f.carrier:
        qs = qs.filter(carrier_code=f.carrier)
    if f.has_waybill is not None:
        qs = qs.filter(has_waybill=f.has_waybill)
    if f.is_dropship is not None:
        qs = qs.filter(is_dropship=f.is_dropship)
    if f.after_sale is not None:
        qs = (
            qs.filter(after_sale_status=AfterSaleStatus.IN_PROGRESS)
            if f.after_sale
            else qs.exclude(after_sale_status=AfterSaleStatus.IN_PROGRESS)
        )
    if f.q:
        qs = qs.filter(order_search(shop_id=shop.pk, term=f.q))
    if f.print_status:
        orders = registered(_print_status, "orders", what="order print status")
        qs = qs.filter(pk__in=orders(shop_id=shop.pk, status=f.print_status))
    return qs


#: numbers other apps keep that find an order in the search: ``finder(shop_id=, term=)``
#: returns the ids of the shop's orders carrying that number (a few, found by an index).
#: ``waybills`` registers its waybill numbers (``waybills.apps``); shops never imports it.
ORDER_NUMBER_FINDERS: list = []


def order_search(*, shop_id: int, term: str) -> Q:
    """The order list's search box (page, API, exports, batch actions): an order number or
    its beginning (``order_no LIKE 'term%'`` on the ``order_shop_order_no_prefix`` index),
    a number registered in ``ORDER_NUMBER_FINDERS`` (a waybill number), or a full mobile
    number (its blind index). Every part is an index lookup within the shop; the finders
    run first, so their ids join the condition as constants (a bitmap OR, no subplan)."""
    term = term.strip()
    match = Q(order_no__startswith=term)
    digits = re.sub(r"[\s-]", "", term)
    if digits.startswith("+86"):
        digits = digits[3:]
    if digits.isdigit() and len(digits) == 11:
        match |= Q(receiver_phone_index=blind_index(digits))
    found = [pk for finder in ORDER_NUMBER_FINDERS for pk in finder(shop_id=shop_id, term=term)]
    if found:
        match |= Q(pk__in=sorted(set(found)))
    return match


def order_get(*, actor: Actor, order_id: int, with_items: bool = True) -> Order:
    """Another shop's order is the same 404 as a missing one. Without the items this is
    one fixed statement (the allocation API's hot path)."""
    shop = actor.require_shop()
    if with_items:
        order = Order.objects.filter(shop=shop, pk=order_id).prefetch_related("items").first()
    else:
        order = _order_row(shop.pk, order_id)
        if order is not None:
            order.shop = shop
    if order is None:
        raise NotFound()
    return order


def _order_row(shop_id: int, order_id: int) -> Order | None:
    from waybill_console import rawsql

    sql = (
        f"SELECT {rawsql.columns(Order, 'o')} FROM shops_order o WHERE o.shop_id = %s AND o.id = %s"  # nosec B608
    )
    try:
        order_id = int(order_id)
    except (TypeError, ValueError):
        return None
    with connection.cursor() as cur:
        rawsql.execute_prepared(cur, "wbc_order", sql, [shop_id, order_id])
        row = cur.fetchone()
    return rawsql.build(Order, row) if row else None


def order_blocks(*, actor: Actor, order_ids: list[int]) -> list[tuple[Order, OrderBlocked]]:
    """The actor's orders among ``order_ids`` that the one order rule blocks (after-sale,
    cancellation under review: :func:`~shops.services.order_states.order_block`), each
    with its refusal: what a batch 发货 will refuse, shown before it is confirmed."""
    shop = actor.require_shop()
    rows = (
        Order.objects.filter(shop=shop, pk__in=order_ids)
        .only("pk", "order_no", "after_sale_status", "cancel_request_status")
        .order_by("pk")
    )
    return [(o, blocked) for o in rows if (blocked := order_block(o)) is not None]


def order_items_for(*, order_ids: list[int]):
    """Items of orders already scoped by the caller (one query for a page of orders)."""
    from shops.models import OrderItem

    return OrderItem.objects.filter(order_id__in=order_ids).order_by("order_id", "id")


def order_events(*, order: Order):
    return order.events.all()


def address_list(*, actor: Actor) -> QuerySet[Address]:
    return Address.objects.filter(shop=actor.require_shop())


def address_get(*, actor: Actor, address_id: int) -> Address:
    address = Address.objects.filter(shop=actor.require_shop(), pk=address_id).first()
    if address is None:
        raise NotFound()
    return address


def sub_account_list(*, actor: Actor) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(shop=actor.require_shop())
        .select_related("user")
        .order_by("role", "id")
    )


def sub_account_get(*, actor: Actor, membership_id: int) -> Membership:
    """One sub-account of the actor's shop, for whoever manages accounts: another shop's,
    the main account and a missing one are the same 404."""
    actor.require(perms.ACCOUNT_MANAGE)
    membership = (
        Membership.objects.filter(
            shop=actor.require_shop(), pk=membership_id, role=Membership.Role.SUB
        )
        .select_related("user")
        .first()
    )
    if membership is None:
        raise NotFound()
    return membership


def member_names(*, actor: Actor) -> dict[int, str]:
    """The shop's members by user id: the name the shop knows each by (the display name,
    else the login name), for "who did it" columns."""
    members = Membership.objects.filter(shop=actor.require_shop()).select_related("user")
    return {m.user_id: m.display_name or m.user.get_username() for m in members}
