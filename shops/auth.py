"""The authentication backend: users found by their username's identity, failed logins
counted and limited in one place for every door that authenticates (the console's login
page, the admin's login page, ``authenticate()`` anywhere)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from shops import services
from shops.errors import LoginLocked


def login_client(request) -> str | None:
    """The address a login comes from, for the per-client failure limit: the peer's
    address (``REMOTE_ADDR``); a forwarded header would let a client pick its own."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


class AccountBackend(ModelBackend):
    """Django's model backend, except that ``ｍerchant``, `` merchant `` and ``Merchant``
    all name the account ``merchant`` (``shops.services.username_identity``), and that
    a locked account or client is refused before its password is checked."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        client = login_client(request)
        try:
            services.login_check_allowed(username=username, client=client)
        except LoginLocked:
            raise PermissionDenied from None  # authenticate() stops here: no backend after
        user = services.user_find_for_login(username=username)
        if user is None:
            get_user_model()().set_password(password)  # as long as a real check takes
        elif user.check_password(password) and self.user_can_authenticate(user):
            return user
        services.login_record_failure(username=username, client=client)
        return None
