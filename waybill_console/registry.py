"""What apps hand to the kernel: the kernel imports no app, each app registers with it.

The kernel (``waybill_console``) names no app module. An app registers what the kernel
calls back (a job handler, the membership lookup of a session, the API token lookup) in
its ``AppConfig.ready()``, through the kernel's ``register_*`` functions, which keep it in
a plain dict with :func:`register_once`. Registering the same thing again is harmless
(``ready()`` may run twice); registering something else under a name already taken is a
configuration error, and so is the kernel asking for a name nobody registered.
"""

from __future__ import annotations

from typing import TypeVar

from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")


def register_once(registry: dict[str, T], name: str, value: T, *, what: str) -> None:
    """Record ``value`` under ``name``; ImproperlyConfigured if another value holds it."""
    held = registry.get(name)
    if held is not None and held != value:
        raise ImproperlyConfigured(
            f"{what} {name!r} is registered twice: {held!r} and {value!r}; one app owns it"
        )
    registry[name] = value


def registered(registry: dict[str, T], name: str, *, what: str) -> T:
    """The value registered under ``name``; ImproperlyConfigured if no app registered it."""
    try:
        return registry[name]
    except KeyError:
        raise ImproperlyConfigured(
            f"{what} {name!r} was never registered: the app that provides it registers it "
            "in its AppConfig.ready() (is the app in INSTALLED_APPS?)"
        ) from None
