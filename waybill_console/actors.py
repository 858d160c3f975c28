"""Who did it, as a person reads it: the name behind an actor string.

Services record who acted as :meth:`Actor.describe` writes it (``user:wang``,
``token#9``, ``branch:ZTO-331001``, ``system``): stable, and never any part of a key. A
page shows the name instead: the member's display name in the shop, the API token's
name, the branch's name, 系统. The apps that own those rows register how to find the names
(``register_actor_names`` in their ``AppConfig.ready()``); the kernel imports no app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.utils.translation import gettext

from waybill_console.registry import register_once

#: prefix ("user:", "token#", "branch:") -> resolve(values, shop) -> {value: name}
_resolvers: dict[str, Callable[..., dict[str, str]]] = {}

#: what the system writes when no person acted (sweeps, the demo seeder, the sandbox)
SYSTEM_ACTORS = frozenset({"", "system", "demo"})


def register_actor_names(prefix: str, resolve: Callable[..., dict[str, str]]) -> None:
    """``resolve(values=[…], shop=…)`` names the actors written as ``prefix + value`` (the
    values without their prefix), for a page of ``shop``; a value it cannot name is left
    out (the page then says 系统 for it, never the raw string)."""
    register_once(_resolvers, prefix, resolve, what="actor names")


def actor_names(actors: Iterable[str], *, shop: Any = None) -> dict[str, str]:
    """Every actor string of ``actors`` -> the name a page shows (one query per kind)."""
    wanted: dict[str, set[str]] = {}
    names: dict[str, str] = {}
    for actor in set(actors):
        prefix = next((p for p in _resolvers if (actor or "").startswith(p)), None)
        if prefix is None:
            names[actor] = gettext("System")
        else:
            wanted.setdefault(prefix, set()).add(actor[len(prefix) :])
    for prefix, values in wanted.items():
        found = _resolvers[prefix](values=sorted(values), shop=shop)
        for value in values:
            names[prefix + value] = found.get(value) or gettext("System")
    return names
