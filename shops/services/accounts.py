"""Shops, accounts (main and sub-accounts), login limits and API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from shops.errors import LoginLocked, ShopNotAvailable
from shops.models import ApiToken, Membership, Shop, ShopType
from waybill_console import permissions as perms
from waybill_console.api_tokens import tokens_changed
from waybill_console.errors import ValidationError
from waybill_console.tenancy import Actor

User = get_user_model()

# --- shops and accounts -----------------------------------------------------------------


def shop_create(
    *,
    shop_no: str,
    name: str,
    main_user,
    shop_type: str = ShopType.ENTERPRISE,
    no_source_risk: bool = False,
) -> Shop:
    with transaction.atomic():
        shop = Shop.objects.create(
            shop_no=shop_no, name=name, shop_type=shop_type, no_source_risk=no_source_risk
        )
        Membership.objects.create(user=main_user, shop=shop, role=Membership.Role.MAIN)
    return shop


def sub_account_create(
    *, actor: Actor, username: str, password: str, permissions: list[str], display_name: str = ""
) -> Membership:
    """The main account adds a sub-account with the given named permissions."""
    actor.require(perms.ACCOUNT_MANAGE)
    shop = actor.require_shop()
    errors = {}
    if not re.fullmatch(r"[\w.@+-]{3,150}", username or ""):
        errors["username"] = "3–150 letters, digits or . @ + - _"
    elif User.objects.filter(username=username).exists():
        errors["username"] = "This username is taken."
    if len(password or "") < 8:
        errors["password"] = "At least 8 characters."  # nosec B105
    unknown = [p for p in permissions if p not in perms.GRANTABLE]
    if unknown:
        errors["permissions"] = f"Unknown permissions: {', '.join(unknown)}"
    if errors:
        raise ValidationError.for_fields(**errors)
    with transaction.atomic():
        user = User.objects.create_user(username=username, password=password)
        return Membership.objects.create(
            user=user,
            shop=shop,
            role=Membership.Role.SUB,
            permissions=sorted(set(permissions)),
            display_name=display_name,
        )


def session_switch_shop(*, request, shop_id: int) -> Membership:
    from shops.selectors import membership_list_for_user
    from waybill_console.tenancy import SESSION_SHOP_KEY

    membership = membership_list_for_user(user=request.user).filter(shop_id=shop_id).first()
    if membership is None:
        raise ShopNotAvailable()
    request.session[SESSION_SHOP_KEY] = membership.shop_id
    return membership


def _login_key(username: str) -> str:
    return "login-fail:" + hashlib.sha256(username.lower().encode()).hexdigest()[:32]


def login_check_allowed(*, username: str) -> None:
    """At most LOGIN_FAILURE_LIMIT_PER_HOUR failed logins per account per hour."""
    if (cache.get(_login_key(username)) or 0) >= settings.LOGIN_FAILURE_LIMIT_PER_HOUR:
        raise LoginLocked()


def login_record_failure(*, username: str) -> None:
    key = _login_key(username)
    cache.add(key, 0, timeout=3600)
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=3600)


# --- API tokens ------------------------------------------------------------------------------


def api_token_create(
    *,
    shop: Shop | None = None,
    branch=None,
    scopes: list[str] | None = None,
    name: str = "",
    created_by=None,
) -> tuple[ApiToken, str]:
    """Create a token for one shop or one branch; returns the token and its key (shown once)."""
    if (shop is None) == (branch is None):
        raise ValidationError.for_fields(shop="A token belongs to exactly one shop or branch.")
    if scopes is None:
        scopes = sorted(perms.GRANTABLE) if shop else []
    unknown = [s for s in scopes if s not in perms.ALL]
    if unknown:
        raise ValidationError.for_fields(scopes=f"Unknown scopes: {', '.join(unknown)}")
    key = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        name=name,
        prefix=key[:8],
        key_hash=hashlib.sha256(key.encode()).hexdigest(),
        shop=shop,
        branch=branch,
        scopes=sorted(set(scopes)),
        created_by=created_by,
    )
    return token, key


def api_token_revoke(*, actor: Actor, token_id: int) -> None:
    actor.require(perms.ACCOUNT_MANAGE)
    ApiToken.objects.filter(shop=actor.require_shop(), pk=token_id).update(
        revoked_at=timezone.now()
    )
    tokens_changed()  # every process stops accepting it once this commits


def sub_account_update(
    *,
    actor: Actor,
    membership_id: int,
    permissions: list[str] | None = None,
    is_active: bool | None = None,
    display_name: str | None = None,
) -> Membership:
    """Set a sub-account's permissions, or disable / enable it (main account only)."""
    actor.require(perms.ACCOUNT_MANAGE)
    membership = Membership.objects.filter(
        shop=actor.require_shop(), pk=membership_id, role=Membership.Role.SUB
    ).first()
    if membership is None:
        from waybill_console.errors import NotFound

        raise NotFound()
    if permissions is not None:
        unknown = [p for p in permissions if p not in perms.GRANTABLE]
        if unknown:
            raise ValidationError.for_fields(
                permissions=f"Unknown permissions: {', '.join(unknown)}"
            )
        membership.permissions = sorted(set(permissions))
    if is_active is not None:
        membership.is_active = is_active
    if display_name is not None:
        membership.display_name = display_name.strip()[:60]
    membership.save()
    return membership
