"""取号并打印: draw an order's number and print its label in one step, from the order page,
or for many orders from the order list (a batch job, then print jobs).

Numbers are drawn by the one allocation path (:func:`waybills.services.waybill_allocate`,
and :func:`waybills.services.jobs.waybill_batch_run` for a batch); the labels go to the
shop's default printer as print jobs, or come back as one PDF when the shop has no default
printer or the user picks PDF. What would stop the print before anything is drawn (no
print permission, a printer that is not ready, a label larger than the printer's paper,
a PDF batch over 50 labels) is checked first.

An order that already holds its number is not drawn again (the allocation path answers
with its number): its label prints, and a label printed before is a reprint, which a
page confirms first (:mod:`printing.reprints`). A batch never reprints: orders whose
label was printed before are left out of its print jobs and listed.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from printing import selectors, services
from printing.errors import PrintTooMany, ReprintNotConfirmed
from printing.models import Printer, PrintJob
from printing.print_jobs import JOB_LIMIT, print_job_create
from printing.printers import printer_ready
from shops.models import Membership, Order
from waybill_console import permissions as perms
from waybill_console.errors import AppError, PermissionDenied, ValidationError
from waybill_console.jobs import job_create
from waybill_console.models import Job
from waybill_console.tenancy import Actor
from waybills.models import Waybill
from waybills.services import waybill_allocate
from waybills.services.allocation import resolve_subscription
from waybills.services.jobs import waybill_batch_params, waybill_batch_run

#: the print target that answers with one PDF instead of a print job
PDF = "pdf"
#: the batch job's kind (registered in ``printing.apps``; ``job_create`` names it as such)
BATCH_KIND = "allocate_print"


@dataclass
class AllocatedPrint:
    """What 取号并打印 did: the order's numbers, and either the print job or the PDF; or,
    when the number was drawn but its label could not be printed, why (``print_error``)."""

    waybills: list[Waybill]
    created: bool
    job: PrintJob | None = None
    pdf: bytes | None = None
    print_error: AppError | None = None


def print_target(*, actor: Actor, target: str | int | None) -> Printer | None:
    """Where 取号并打印 prints: the printer chosen (its id), or ``"pdf"`` (None: one PDF);
    nothing chosen: the shop's default printer, or a PDF when it has none."""
    if target == PDF:
        return None
    if target in (None, ""):
        return selectors.printer_list(actor=actor).filter(is_default=True).first()
    try:
        printer_id = int(target)
    except (TypeError, ValueError):
        raise ValidationError.for_fields(print_target=_("Choose a printer or PDF.")) from None
    return selectors.printer_get(actor=actor, printer_id=printer_id)


def _check_printer(
    *, actor: Actor, printer: Printer | None, subscription, carrier: str = ""
) -> None:
    """The print must be possible before a number is drawn for it: the printer ready and
    the service's carrier's label on its paper. (With no service named nothing is drawn,
    only an order's own numbers print: the print job checks them.)"""
    if printer is None:
        return
    printer_ready(printer)
    if subscription or carrier:
        sub = resolve_subscription(actor=actor, subscription=subscription, carrier=carrier)
        template = services.template_for(shop=actor.require_shop(), carrier=sub.carrier)
        services.check_paper(template, printer)


def waybill_allocate_and_print(
    *,
    actor: Actor,
    order: Order,
    subscription: int | None = None,
    package_count: int = 1,
    target: str | int | None = None,
    ask_before_reprint: bool = False,
) -> AllocatedPrint:
    """取号并打印 for one order: its numbers (drawn now, or the ones it holds), then their
    labels as a print job on the target printer or as one PDF.

    Refusals before the draw are raised (nothing drawn). Once numbers are drawn, a print
    refusal is answered in ``print_error`` (the numbers stay; 打印 prints them later),
    except REPRINT_NOT_CONFIRMED, which is raised: it concerns numbers drawn before."""
    actor.require(perms.PRINT)
    actor.require(perms.WAYBILL_ALLOCATE)
    printer = print_target(actor=actor, target=target)
    _check_printer(actor=actor, printer=printer, subscription=subscription)
    allocation = waybill_allocate(
        actor=actor, order=order, subscription=subscription, package_count=package_count
    )
    drawn = {w.pk for w in allocation.waybills}
    labels = [w for w in selectors.order_labels(actor=actor, order_id=order.pk) if w.pk in drawn]
    done = AllocatedPrint(waybills=labels, created=allocation.created)
    try:
        done.job, done.pdf = _print(
            actor=actor, waybills=labels, printer=printer, ask_before_reprint=ask_before_reprint
        )
    except ReprintNotConfirmed:
        raise
    except AppError as err:
        done.print_error = err
    return done


def order_labels_print(
    *, actor: Actor, order: Order, target: str | int | None = None, ask_before_reprint: bool
) -> AllocatedPrint:
    """打印 (重打) on the order page: the labels of the order's live numbers (every package),
    as a print job on the target printer or as one PDF; ``ask_before_reprint`` until the
    user confirmed a reprint."""
    actor.require(perms.PRINT)
    labels = selectors.order_labels(actor=actor, order_id=order.pk)
    if not labels:
        raise ValidationError(_("The order has no waybill number yet."))
    printer = print_target(actor=actor, target=target)
    done = AllocatedPrint(waybills=labels, created=False)
    done.job, done.pdf = _print(
        actor=actor, waybills=labels, printer=printer, ask_before_reprint=ask_before_reprint
    )
    return done


def _print(
    *, actor: Actor, waybills: list[Waybill], printer: Printer | None, ask_before_reprint: bool
) -> tuple[PrintJob | None, bytes | None]:
    if printer is None:
        pdf = services.labels_pdf(
            actor=actor, waybills=waybills, ask_before_reprint=ask_before_reprint
        )
        return None, pdf
    job = print_job_create(
        actor=actor,
        printer=printer,
        waybill_ids=[w.pk for w in waybills],
        ask_before_reprint=ask_before_reprint,
    )
    return job, None


# --- many orders: the batch job -----------------------------------------------------------


def allocate_print_batch_start(
    *,
    actor: Actor,
    order_ids: list,
    subscription: int | None = None,
    carrier: str = "",
    target=None,
) -> Job:
    """批量取号并打印: the batch allocation job (≤ 500 orders) that then sends the new
    labels to the printer in print jobs of 50; for a PDF (≤ 50 orders) the page offers
    the PDF once the numbers are drawn."""
    actor.require(perms.PRINT)
    printer = print_target(actor=actor, target=target)
    if printer is None and isinstance(order_ids, list) and len(order_ids) > JOB_LIMIT:
        raise PrintTooMany(limit=JOB_LIMIT, detail={"count": len(order_ids)})
    _check_printer(actor=actor, printer=printer, subscription=subscription, carrier=carrier)
    params = waybill_batch_params(
        actor=actor, order_ids=order_ids, subscription=subscription, carrier=carrier
    )
    return job_create(
        actor=actor,
        kind="allocate_print",
        params={**params, "print_target": printer.pk if printer else PDF},
        total=len(params["orders"]),
    )


def _creator(job: Job) -> Actor:
    """The user who started the job, acting for the job's shop with the permissions they
    hold now (a job outliving their membership prints nothing)."""
    membership = (
        Membership.objects.filter(
            shop_id=job.shop_id, user_id=job.created_by_id, is_active=True, shop__is_active=True
        )
        .select_related("shop", "user")
        .first()
    )
    if job.created_by_id is None or membership is None:
        raise PermissionDenied()
    return Actor.for_membership(membership)


def allocate_print_run(job: Job) -> dict:
    """The job's handler: the batch allocation, then the print jobs of the labels it drew
    (to a printer target). Safe to run again after a worker died: the allocation resumes
    (:func:`waybill_batch_run`), and orders already in a print job (``printed_orders``,
    recorded in the print job's own transaction) are not sent twice."""
    result = waybill_batch_run(job)
    target = job.params.get("print_target", PDF)
    ok = [r["order"] for r in result["results"] if r["ok"]]
    if target == PDF:
        return {**result, "print_target": PDF, "to_print": ok}
    done = dict(job.result or {})
    state = {
        "print_target": target,
        "print_jobs": list(done.get("print_jobs", [])),
        "printed_orders": list(done.get("printed_orders", [])),
        "skipped": [],
        "print_error": None,
    }
    try:
        actor = _creator(job)
        printer = selectors.printer_get(actor=actor, printer_id=int(target))
        waybills = selectors.waybills_to_print(actor=actor, order_ids=ok)
        state["skipped"] = [w.order_id for w in waybills if w.print_count > 0]
        queue = [
            w
            for w in waybills
            if w.print_count == 0 and w.order_id not in set(state["printed_orders"])
        ]
        for start in range(0, len(queue), JOB_LIMIT):
            chunk = queue[start : start + JOB_LIMIT]
            with transaction.atomic():
                print_job = print_job_create(
                    actor=actor, printer=printer, waybill_ids=[w.pk for w in chunk]
                )
                state["print_jobs"].append(print_job.pk)
                state["printed_orders"] += [w.order_id for w in chunk]
                Job.objects.filter(pk=job.pk).update(result={**result, **state})
    except AppError as err:  # the numbers stay drawn; the page says why nothing printed
        state["print_error"] = err.as_dict()
    return {**result, **state}
