"""The bell's unread count for the top bar of every page with a shop (console and factory
portal). Lazy: a template that never shows the bell (an htmx fragment) costs no query; the
one that does pays one short indexed COUNT, once per request."""

from __future__ import annotations

from django.utils.functional import cached_property

from events.selectors_notifications import UNREAD_CAP, unread_count


class Bell:
    def __init__(self, request):
        self._request = request

    @cached_property
    def count(self) -> int:
        request = self._request
        if not request.membership:  # no shop (ops staff, a deactivated shop's account)
            return 0
        return unread_count(request.actor)

    @property
    def label(self) -> str:
        """The badge: the count, ``99+`` past the cap."""
        n = self.count
        return f"{UNREAD_CAP - 1}+" if n >= UNREAD_CAP else str(n)


def notifications(request) -> dict:
    user = getattr(request, "user", None)
    if (
        user is None
        or not user.is_authenticated
        or getattr(user, "_meta", None) is None  # a token's request: not a person
        or not hasattr(request, "membership")
    ):
        return {}
    bell = getattr(request, "wbc_bell", None)
    if bell is None:
        bell = request.wbc_bell = Bell(request)
    return {"notification_bell": bell}
