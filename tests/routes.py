"""Every route of the URL configuration as text (``api/v1/waybills/<str:waybill_no>/``),
for the tests that walk them all so that a new route cannot slip past a rule."""

from django.urls import URLPattern, URLResolver, get_resolver


def all_routes() -> list[str]:
    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield prefix + str(p.pattern)

    return list(dict.fromkeys(walk(get_resolver().url_patterns)))
