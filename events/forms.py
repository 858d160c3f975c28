"""The webhook endpoint form (推送地址): what it posts, read into the service's arguments."""

from __future__ import annotations

from django.http import QueryDict

from events.models import Endpoint
from events.types import TYPES


def endpoint_values(data: QueryDict) -> dict:
    """The posted form as :func:`events.services.endpoints.endpoint_create` takes it."""
    return {
        "url": data.get("url", ""),
        "description": data.get("description", ""),
        "event_types": data.getlist("event_types"),
        "is_enabled": data.get("is_enabled") == "1",
    }


def endpoint_initial(endpoint: Endpoint | None) -> dict:
    if endpoint is None:
        return {"url": "", "description": "", "event_types": [], "is_enabled": True}
    return {
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": list(endpoint.event_types),
        "is_enabled": endpoint.is_enabled,
    }


def event_type_choices(checked: list[str]) -> list[dict]:
    """The checkboxes: every type by its label, checked as the form holds them."""
    return [
        {"name": t.name, "label": t.label, "checked": t.name in checked} for t in TYPES.values()
    ]
