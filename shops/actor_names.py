"""The names behind ``user:<username>`` and ``token#<id>`` actor strings (registered with
:mod:`waybill_console.actors` by this app): what history and ledgers show for who acted."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils.translation import gettext

from shops.models import ApiToken, Membership


def user_names(*, values: list[str], shop=None) -> dict[str, str]:
    """A member of ``shop`` by the name the shop knows them by (display name, else login
    name); platform staff as 平台运营; anyone else by their login name."""
    names: dict[str, str] = {}
    if shop is not None:
        members = Membership.objects.filter(shop=shop, user__username__in=values)
        for m in members.select_related("user"):
            names[m.user.get_username()] = m.display_name or m.user.get_username()
    rest = [v for v in values if v not in names]
    if rest:
        for username, staff in (
            get_user_model().objects.filter(username__in=rest).values_list("username", "is_staff")
        ):
            names[username] = gettext("Platform operations") if staff else username
    return {v: names.get(v, v) for v in values}


def token_names(*, values: list[str], shop=None) -> dict[str, str]:
    """An API token by its name (an unnamed one as "API token"); only the shop's own
    tokens and carrier branches' tokens are named, never another shop's."""
    ids = [int(v) for v in values if v.isdigit()]
    tokens = ApiToken.objects.filter(pk__in=ids).select_related("branch")
    names = {}
    for token in tokens:
        if token.shop_id is not None and shop is not None and token.shop_id != shop.pk:
            continue
        if token.name:
            names[str(token.pk)] = token.name
        elif token.branch is not None:
            names[str(token.pk)] = token.branch.name
    return {v: names.get(v, gettext("API token")) for v in values}
