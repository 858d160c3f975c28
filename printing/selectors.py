"""Reads for printing, always scoped to the actor's shop."""

from __future__ import annotations

from django.db.models import QuerySet

from printing.models import LabelTemplate
from waybill_console.errors import NotFound
from waybill_console.tenancy import Actor

# --- label templates (面单模板, the designer) ---------------------------------------------


def template_list(*, actor: Actor) -> QuerySet[LabelTemplate]:
    """The shop's label templates, per carrier with the default first."""
    shop = actor.require_shop()
    return (
        LabelTemplate.objects.filter(shop=shop)
        .select_related("carrier", "shop")
        .order_by("carrier__code", "-is_default", "name", "id")
    )


def template_get(*, actor: Actor, template_id: int) -> LabelTemplate:
    """One of the shop's templates; another shop's is the same 404 as a missing one."""
    template = template_list(actor=actor).filter(pk=template_id).first()
    if template is None:
        raise NotFound()
    return template


# --- end of label templates ---------------------------------------------------------------
