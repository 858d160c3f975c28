"""Reads for printing, always scoped to the actor's shop."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet

from printing.models import (
    LabelTemplate,
    PrintAgent,
    PrintAttempt,
    PrintDocument,
    Printer,
    PrintJob,
)
from waybill_console.errors import NotFound
from waybill_console.tenancy import Actor
from waybills.models import LIVE_STATUSES, Waybill
from waybills.selectors import waybill_actionable

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


# --- printers, print agents and print jobs ---------------------------------------------------


def printer_list(*, actor: Actor) -> QuerySet[Printer]:
    return Printer.objects.filter(shop=actor.require_shop()).select_related("agent")


def printer_get(*, actor: Actor, printer_id: int) -> Printer:
    printer = printer_list(actor=actor).filter(pk=printer_id).first()
    if printer is None:
        raise NotFound()
    return printer


def agent_list(*, actor: Actor, include_revoked: bool = False) -> QuerySet[PrintAgent]:
    qs = PrintAgent.objects.filter(shop=actor.require_shop())
    if not include_revoked:
        qs = qs.filter(revoked_at__isnull=True)
    return qs.annotate(printer_count=Count("printers")).order_by("name", "id")


def agent_get(*, actor: Actor, agent_id: int) -> PrintAgent:
    agent = PrintAgent.objects.filter(shop=actor.require_shop(), pk=agent_id).first()
    if agent is None:
        raise NotFound()
    return agent


def print_job_list(
    *, actor: Actor, status: str = "", printer_id: int | None = None
) -> QuerySet[PrintJob]:
    qs = (
        PrintJob.objects.filter(shop=actor.require_shop())
        .select_related("printer")
        .annotate(
            document_count=Count("documents", distinct=True),
            confirmed_count=Count(
                "documents", filter=Q(documents__confirmed_at__isnull=False), distinct=True
            ),
            attempt_count=Count("attempts", distinct=True),
        )
        .order_by("-created_at", "-id")
    )
    if status:
        qs = qs.filter(status=status)
    if printer_id:
        qs = qs.filter(printer_id=printer_id)
    return qs


def print_job_get(*, actor: Actor, job_id: int) -> PrintJob:
    """One job with its documents (and their waybills) and attempts."""
    job = (
        PrintJob.objects.filter(shop=actor.require_shop(), pk=job_id)
        .select_related("printer", "template", "claimed_by")
        .prefetch_related(
            Prefetch(
                "documents",
                queryset=PrintDocument.objects.select_related("waybill", "waybill__carrier"),
            ),
            Prefetch("attempts", queryset=PrintAttempt.objects.order_by("started_at", "id")),
        )
        .first()
    )
    if job is None:
        raise NotFound()
    return job


def waybills_to_print(*, actor: Actor, order_ids: list[int]) -> list[Waybill]:
    """The live parent waybill of each order (in the orders' order), for batch printing
    from the order list; orders without one are left out."""
    live = waybill_actionable(actor=actor).filter(
        order_id__in=order_ids, parent__isnull=True, status__in=LIVE_STATUSES
    )
    rows = {w.order_id: w for w in live.select_related("carrier", "order", "shop")}
    return [rows[i] for i in order_ids if i in rows]


def order_labels(*, actor: Actor, order_id: int) -> list[Waybill]:
    """The order's live numbers drawn by the actor's shop, by package: what 打印 on the
    order page prints (a 子母件 order: every package's label)."""
    return list(
        waybill_actionable(actor=actor)
        .filter(order_id=order_id, order__shop=actor.require_shop(), status__in=LIVE_STATUSES)
        .select_related("carrier", "order", "shop")
        .order_by("package_no", "pk")
    )
