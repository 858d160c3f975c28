"""Shops, accounts (main and sub-accounts), login limits and API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
import zlib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shops.errors import LoginLocked, LoginLockedForClient, ShopNotAvailable
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


def shop_set_active(*, shop_ids: list[int], active: bool) -> int:
    """Deactivate (or reactivate) shops; the number changed. A deactivated shop's API
    tokens and print agents are refused (their selectors read ``is_active``) and its
    users' sessions find no shop; the token generation moves once this commits, so no
    process keeps serving a token it cached. The admin's actions and edit form, and
    any code, go through here or ``Shop.save()`` (which moves the generation too)."""
    with transaction.atomic():
        changed = (
            Shop.objects.filter(pk__in=list(shop_ids))
            .exclude(is_active=active)
            .update(is_active=active)
        )
        tokens_changed()
    return changed


def user_create(*, username: str, password: str):
    """A new login: the username normalised (``username_normalize``) and refused with a
    field error naming it when its identity is taken (``Merchant`` while ``merchant``
    exists, ``ｍerchant``, `` merchant ``). Same-name requests are serialised by a
    transaction-scoped advisory lock on the identity, so two at once cannot both pass."""
    username = username_normalize(username)
    errors = {}
    if not re.fullmatch(r"[\w.@+-]{3,150}", username):
        errors["username"] = _("Username: 3 to 150 letters, digits or . @ + - _.")
    problems = password_problems(password=password, user=User(username=username))
    if problems:
        errors["password"] = problems
    if errors:
        raise ValidationError.for_fields(**errors)
    identity = username_identity(username)
    taken = ValidationError.for_fields(username=_("Username: this username is already taken."))
    with transaction.atomic():
        lock = zlib.crc32(b"user:" + identity.encode())
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [lock])
        names = User.objects.filter(username__iexact=username).values_list("username", flat=True)
        if any(username_identity(name) == identity for name in names):
            raise taken
        try:
            with transaction.atomic():
                return User.objects.create_user(username=username, password=password)
        except IntegrityError:
            raise taken from None


def password_problems(*, password: str, user) -> list[str]:
    """What Django's ``AUTH_PASSWORD_VALIDATORS`` find wrong with ``password`` for ``user``
    (an unsaved one for a new login), each naming the field ("密码：这个密码太常见了。");
    empty when it may be set. Every password the product sets goes through here."""
    try:
        validate_password(password or "", user=user)
    except DjangoValidationError as err:
        return [_("Password: %(problem)s") % {"problem": m} for m in err.messages]
    return []


def session_switch_shop(*, request, shop_id: int) -> Membership:
    from shops.selectors import membership_list_for_user
    from waybill_console.tenancy import SESSION_SHOP_KEY

    membership = membership_list_for_user(user=request.user).filter(shop_id=shop_id).first()
    if membership is None:
        raise ShopNotAvailable()
    request.session[SESSION_SHOP_KEY] = membership.shop_id
    return membership


# --- usernames and logins --------------------------------------------------------------------


def username_normalize(username: str) -> str:
    """The username as stored: NFKC (full-width ｍerchant is merchant, as Django's own
    forms and ``create_user`` normalise it) without surrounding whitespace."""
    return unicodedata.normalize("NFKC", str(username or "")).strip()


def username_identity(username: str) -> str:
    """The account a username names, whatever its spelling: normalised and case-folded.
    Logins find the user by it, the lockout counts by it and a new account may not take
    one that is already in use (``Merchant``, `` merchant `` and ``ｍerchant`` are one)."""
    return username_normalize(username).casefold()


def user_find_for_login(*, username: str):
    """The one user whose username has this identity, or None (none, or an ambiguous
    pair left over from before usernames were compared this way)."""
    identity = username_identity(username)
    if not identity:
        return None
    candidates = [
        u
        for u in User.objects.filter(username__iexact=username_normalize(username))
        if username_identity(u.get_username()) == identity
    ]
    return candidates[0] if len(candidates) == 1 else None


def _login_key(username: str) -> str:
    digest = hashlib.sha256(username_identity(username).encode()).hexdigest()[:32]
    return "login-fail:" + digest


def _client_key(client: str) -> str:
    return "login-fail-client:" + hashlib.sha256(client.encode()).hexdigest()[:32]


def login_check_allowed(*, username: str, client: str | None = None) -> None:
    """At most LOGIN_FAILURE_LIMIT_PER_HOUR failed logins per account (by its identity,
    so spelling variants share the count) and LOGIN_FAILURE_LIMIT_PER_CLIENT_PER_HOUR per
    client address (spraying many usernames from one place), per hour. With Redis, where
    the counters live, unreachable this raises and the login fails closed (503)."""
    counts = cache.get_many([_login_key(username)] + ([_client_key(client)] if client else []))
    if (counts.get(_login_key(username)) or 0) >= settings.LOGIN_FAILURE_LIMIT_PER_HOUR:
        raise LoginLocked()
    limit = settings.LOGIN_FAILURE_LIMIT_PER_CLIENT_PER_HOUR
    if client and (counts.get(_client_key(client)) or 0) >= limit:
        raise LoginLockedForClient()


def login_record_failure(*, username: str, client: str | None = None) -> None:
    for key in [_login_key(username)] + ([_client_key(client)] if client else []):
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
        raise ValidationError.for_fields(shop=_("A token belongs to exactly one shop or branch."))
    if scopes is None:
        scopes = sorted(perms.GRANTABLE) if shop else []
    unknown = [s for s in scopes if s not in perms.ALL]
    if unknown:
        raise ValidationError.for_fields(
            scopes=_("Unknown scopes: %(scopes)s") % {"scopes": ", ".join(unknown)}
        )
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
