"""Who is acting, for which shop, with which permissions.

Every service takes an :class:`Actor`. A browser session acts for the shop it
switched to (``session["shop_id"]``); an API token acts for the one shop (or
carrier branch) it is bound to, with its scopes as permissions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _

from waybill_console import permissions as perms
from waybill_console.errors import PermissionDenied
from waybill_console.registry import register_once, registered

SESSION_SHOP_KEY = "shop_id"

#: how a session's memberships are found, registered by the app that owns them
_memberships: dict[str, Callable[..., Any]] = {}


def register_memberships(
    *,
    for_session: Callable[..., Model | None],
    list_for_user: Callable[..., Any],
) -> None:
    """Called from the owning app's ``AppConfig.ready()``: ``for_session(user=, shop_id=)``
    is the membership a browser session acts through (the shop it switched to, else the
    user's first), ``list_for_user(user=)`` the user's live memberships (the shop switcher).
    The same functions again do nothing; other ones are ImproperlyConfigured."""
    register_once(_memberships, "for_session", for_session, what="membership lookup")
    register_once(_memberships, "list_for_user", list_for_user, what="membership lookup")


def _membership_lookup(name: str) -> Callable[..., Any]:
    return registered(_memberships, name, what="membership lookup")


class MissingPermission(PermissionDenied):
    message = _(
        "You do not have the “%(permission)s” permission; ask the main account to grant it."
    )


#: the permissions checked so far inside :func:`permissions_noted` (None outside it)
_noted: ContextVar[set[str] | None] = ContextVar("wbc_permissions_noted", default=None)


@contextmanager
def permissions_noted() -> Iterator[set[str]]:
    """Collect every permission :meth:`Actor.require` checks inside the block, whoever the
    actor: a stored idempotent answer remembers what it needed, so that a replay is
    checked again against the caller's permissions of the moment."""
    noted: set[str] = set()
    reset = _noted.set(noted)
    try:
        yield noted
    finally:
        _noted.reset(reset)


@dataclass(frozen=True)
class Actor:
    """The caller of a service: a user or a token, acting for one shop or one branch."""

    #: a ``shops.Shop`` and a ``shops.Membership`` (the kernel names no app: plain models here)
    shop: Model | None
    user: Any = None
    membership: Model | None = None
    token: Any = None
    branch: Any = None
    permissions: frozenset[str] = field(default_factory=frozenset)
    is_staff: bool = False

    @property
    def is_main(self) -> bool:
        return self.membership is not None and self.membership.role == "main"

    @property
    def shop_id(self) -> int | None:
        return self.shop.pk if self.shop else None

    def has(self, permission: str) -> bool:
        return permission in self.permissions

    def require(self, permission: str) -> None:
        noted = _noted.get()
        if noted is not None:
            noted.add(permission)
        if not self.has(permission):
            raise MissingPermission(
                permission=perms.label(permission), detail={"permission": permission}
            )

    def require_shop(self) -> Model:
        if self.shop is None:
            raise PermissionDenied(_("This action needs a shop account."))
        return self.shop

    def describe(self) -> str:
        # never any part of a key: other parties (the merchant, a branch) read this
        if self.branch is not None:
            return f"branch:{self.branch.carrier.code}-{self.branch.code}"
        if self.token is not None:
            return f"token#{self.token.pk}"
        if self.user is not None:
            return f"user:{self.user.get_username()}"
        return "system"

    @classmethod
    def for_membership(cls, membership: Model) -> Actor:
        granted = perms.ALL if membership.role == "main" else frozenset(membership.permissions)
        return cls(
            shop=membership.shop,
            user=membership.user,
            membership=membership,
            permissions=frozenset(granted),
        )

    @classmethod
    def system(cls, shop: Model | None = None) -> Actor:
        """Celery sweeps and management commands acting on the system's behalf."""
        return cls(shop=shop, permissions=perms.ALL)


def _session_user(request):
    """The logged-in user of a browser session; None for anonymous requests and for API
    requests authenticated by a token or an agent key (their ``request.user`` is not a
    user row, e.g. a page such as the API docs opened with a token)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or getattr(user, "_meta", None) is None:
        return None
    return user


def _load_membership(request):
    user = _session_user(request)
    if user is None:
        return None
    membership_for_session = _membership_lookup("for_session")
    return membership_for_session(user=user, shop_id=request.session.get(SESSION_SHOP_KEY))


class CurrentShopMiddleware:
    """Puts ``request.membership``, ``request.shop`` and ``request.actor`` on browser requests."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.membership = SimpleLazyObject(lambda: _load_membership(request))

        def shop():
            m = request.membership
            return m.shop if m else None

        def actor():
            m = request.membership
            if m:
                return Actor.for_membership(m)
            user = getattr(request, "user", None)
            return Actor(shop=None, user=user, is_staff=bool(user and user.is_staff))

        request.shop = SimpleLazyObject(shop)
        request.actor = SimpleLazyObject(actor)
        return self.get_response(request)


def shop_context(request) -> dict:
    """Template context: the current shop, the user's shops, the current permissions."""
    user = _session_user(request)
    if user is None or not hasattr(request, "membership"):
        return {}
    membership_list_for_user = _membership_lookup("list_for_user")
    membership = request.membership or None
    return {
        "current_membership": membership,
        "current_shop": membership.shop if membership else None,
        "user_memberships": SimpleLazyObject(lambda: list(membership_list_for_user(user=user))),
        "actor_permissions": request.actor.permissions if membership else frozenset(),
    }
