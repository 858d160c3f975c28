"""Printers, print agents and print jobs.

A print job holds up to 50 labels for one printer, one document per label. Each try at
sending the job's unconfirmed documents is a :class:`PrintAttempt` (bytes sent, which
documents the printer confirmed, the outcome and a clear reason). A document counts as a
print (``prints_record``) only once the printer confirmed it, so a retry sends only the
documents without ``confirmed_at`` and never prints a confirmed label twice.

Who sends: a Celery task for network and USB printers (:func:`print_job_send`, under an
advisory lock per job so that a redelivered task finds a dead sender's attempt and closes
it), the print agent for agent printers (:func:`agent_job_claim` then
:func:`agent_job_report`). Labels are rendered at send time in the printer's language.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from carriers.models import Carrier, Subscription
from printing import services
from printing.errors import (
    PrinterAddressNotAllowed,
    PrinterBusy,
    PrinterOffline,
    PrintFailed,
    PrintInterrupted,
    PrintJobState,
    PrintNotConfirmed,
    PrintTooMany,
    WaybillNotPrintable,
)
from printing.models import (
    Connection,
    LabelTemplate,
    PrintAgent,
    PrintAttempt,
    PrintDocument,
    Printer,
    PrinterKind,
    PrintJob,
)
from printing.renderers import render
from printing.transports import (
    BLOCKED,
    DROPPED,
    OFFLINE,
    UNCONFIRMED,
    TransportError,
    network,
    usb,
)
from printing.transports import agent as agent_wire
from waybill_console import inputs
from waybill_console import permissions as perms
from waybill_console.errors import AppError, NotFound, ValidationError
from waybill_console.locks import advisory_lock
from waybill_console.tenancy import Actor
from waybills.models import LIVE_STATUSES, Waybill
from waybills.selectors import waybill_actionable

logger = logging.getLogger("printing.jobs")

JOB_LIMIT = 50
#: an agent that claimed a job and did not report within this has lost it
AGENT_CLAIM_TIMEOUT = timedelta(minutes=5)
#: the longest ``?wait=`` of the agent's long poll
AGENT_WAIT_MAX = 25
SERVER_CONNECTIONS = (Connection.NETWORK, Connection.USB)

#: what the transports say happened, in the console's words
CAUSES = {
    "timeout": _("connection timed out"),
    "refused": _("connection refused"),
    "reset": _("connection reset"),
    "broken pipe": _("broken pipe"),
    "unreachable": _("host unreachable"),
    "unknown host": _("unknown host"),
}


def _lock_name(job_id: int) -> str:
    return f"print_job:{job_id}"


# --- printers -------------------------------------------------------------------------------


def _usb_id(value, field: str, errors: dict) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = value if isinstance(value, int) else int(str(value).strip(), 16)
    except ValueError:
        number = -1
    if isinstance(value, bool) or not 0 < number <= 0xFFFF:
        errors[field] = "A USB id in hex, e.g. 0416."
        return None
    return number


def _number(value, field: str, errors: dict, *, low, high, decimal: bool = False):
    try:
        number = inputs.finite_decimal(value) if decimal else int(str(value).strip())
    except ValueError:
        errors[field] = f"A number from {low} to {high}."
        return None
    if isinstance(value, bool) or not low <= number <= high:
        errors[field] = f"A number from {low} to {high}."
        return None
    return number.quantize(Decimal("0.1")) if decimal else number


def _flag(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _clean_printer(data: dict, *, shop, instance: Printer | None) -> dict:
    """The fields given in ``data`` (all of them for a new printer), checked; the
    connection's own fields must be complete once merged with the instance."""
    partial = instance is not None
    errors: dict = {}
    out: dict = {}

    def given(key: str) -> bool:
        return key in data or not partial

    if given("name"):
        name = str(data.get("name") or "").strip()
        if not name or len(name) > 40:
            errors["name"] = "1 to 40 characters."
        out["name"] = name
    if given("kind"):
        kind = str(data.get("kind") or "")
        if kind not in PrinterKind.values:
            errors["kind"] = f"One of {', '.join(PrinterKind.values)}."
        out["kind"] = kind
    if given("connection"):
        connection = str(data.get("connection") or "")
        if connection not in Connection.values:
            errors["connection"] = f"One of {', '.join(Connection.values)}."
        out["connection"] = connection
    if "host" in data:
        host = str(data.get("host") or "").strip()
        if len(host) > 100 or any(c.isspace() or c == "/" for c in host):
            errors["host"] = "A host name or IP address."
        out["host"] = host
    if "port" in data and data.get("port") not in (None, ""):
        out["port"] = _number(data["port"], "port", errors, low=1, high=65535)
    for key in ("usb_vendor_id", "usb_product_id"):
        if key in data:
            out[key] = _usb_id(data.get(key), key, errors)
    if "agent" in data:
        agent_id = data.get("agent")
        out["agent"] = None
        if agent_id not in (None, ""):
            agent = PrintAgent.objects.filter(
                shop=shop, pk=_number(agent_id, "agent", errors, low=1, high=2**62) or 0
            ).first()
            if agent is None or agent.revoked_at:
                errors["agent"] = "Not one of this shop's print agents."
            out["agent"] = agent
    if "agent_target" in data:
        target = str(data.get("agent_target") or "").strip()
        out["agent_target"] = target
    if "dpi" in data or not partial:
        dpi = _number(data.get("dpi") or 203, "dpi", errors, low=203, high=300)
        if dpi is not None and dpi not in services.DPIS:
            errors["dpi"] = "203 or 300."
        out["dpi"] = dpi
    for key in ("offset_x_mm", "offset_y_mm"):
        if key in data:
            out[key] = _number(data.get(key) or 0, key, errors, low=-20, high=20, decimal=True)
    for key, low, high in (("paper_width_mm", 40, 120), ("paper_height_mm", 40, 300)):
        if key in data and data.get(key) not in (None, ""):
            out[key] = _number(data[key], key, errors, low=low, high=high)
    if "grayscale" in data:
        out["grayscale"] = _flag(data.get("grayscale"))
    if errors:
        raise ValidationError.for_fields(**errors)

    def merged(key: str):
        return out[key] if key in out else getattr(instance, key, None)

    connection = merged("connection")
    if connection == Connection.NETWORK and not merged("host"):
        errors["host"] = "The printer's IP address or host name."
    elif connection == Connection.NETWORK and {"host", "port", "connection"} & set(out):
        errors.update(printer_address_errors(merged("host"), merged("port") or 9100))
    if connection == Connection.USB:
        for key in ("usb_vendor_id", "usb_product_id"):
            if not merged(key):
                errors[key] = "A USB id in hex, e.g. 0416."
    if connection == Connection.AGENT:
        if not merged("agent"):
            errors["agent"] = "Choose the print agent of the packing PC."
        try:
            out["agent_target"] = agent_wire.target_check(merged("agent_target") or "")
        except ValidationError as err:
            errors.update(err.detail)
    if errors:
        raise ValidationError.for_fields(**errors)
    return out


def printer_address_errors(host: str, port: int) -> dict:
    """A network printer must be on an allowed address and port (the transport's rule,
    :mod:`printing.transports.network`); each one refused is a field error. A name is
    resolved now and every address it gives must be allowed; a name that does not resolve
    yet is kept (each connection resolves and checks it again)."""
    errors = {}
    if not network.port_allowed(int(port)):
        errors["port"] = _("Printers are reached on ports %(ports)s.") % {"ports": _ports()}
    try:
        network.host_addresses(host, port)
    except network.AddressRefused as refused:
        errors["host"] = _(
            "%(address)s is not on the local network printers may be on (for example "
            "192.168.1.50); ask the operator to allow it."
        ) % {"address": refused.address}
    except (OSError, UnicodeError):
        pass
    return errors


def _ports() -> str:
    return ", ".join(
        str(low) if low == high else f"{low}–{high}" for low, high in network.allowed_ports()
    )


#: what a printer's owner sets (the API and the page take the same fields; the page
#: shows grayscale and default as their own controls)
PRINTER_FIELDS = (
    "name",
    "kind",
    "connection",
    "host",
    "port",
    "usb_vendor_id",
    "usb_product_id",
    "agent",
    "agent_target",
    "dpi",
    "offset_x_mm",
    "offset_y_mm",
    "paper_width_mm",
    "paper_height_mm",
    "grayscale",
    "is_default",
)


def printer_create(*, actor: Actor, data: dict) -> Printer:
    """A new printer; the shop's first one becomes its default."""
    actor.require(perms.PRINT)
    shop = actor.require_shop()
    fields = _clean_printer(data, shop=shop, instance=None)
    try:
        with transaction.atomic():
            first = not Printer.objects.filter(shop=shop).exists()
            printer = Printer.objects.create(shop=shop, is_default=first, **fields)
    except IntegrityError:
        raise ValidationError.for_fields(name="A printer with this name exists.") from None
    if _flag(data.get("is_default")) and not first:
        printer_set_default(actor=actor, printer=printer)
    return printer


def _own(actor: Actor, obj) -> None:
    if obj.shop_id != actor.require_shop().pk:
        raise NotFound()


def printer_update(*, actor: Actor, printer: Printer, data: dict) -> Printer:
    actor.require(perms.PRINT)
    _own(actor, printer)
    fields = _clean_printer(data, shop=printer.shop, instance=printer)
    for key, value in fields.items():
        setattr(printer, key, value)
    try:
        with transaction.atomic():
            printer.save()
    except IntegrityError:
        raise ValidationError.for_fields(name="A printer with this name exists.") from None
    if _flag(data.get("is_default")):
        printer_set_default(actor=actor, printer=printer)
    return printer


def printer_set_default(*, actor: Actor, printer: Printer) -> Printer:
    actor.require(perms.PRINT)
    _own(actor, printer)
    with transaction.atomic():
        Printer.objects.filter(shop_id=printer.shop_id, is_default=True).exclude(
            pk=printer.pk
        ).update(is_default=False)
        Printer.objects.filter(pk=printer.pk).update(is_default=True)
    printer.is_default = True
    return printer


def printer_delete(*, actor: Actor, printer: Printer) -> None:
    """Delete the printer and its print history (the waybills keep their print counts);
    refused while one of its jobs is queued or sending."""
    actor.require(perms.PRINT)
    _own(actor, printer)
    with transaction.atomic():
        locked = Printer.objects.select_for_update().filter(pk=printer.pk).first()
        if locked is None:
            return
        busy = PrintJob.objects.filter(
            printer=locked, status__in=[PrintJob.Status.QUEUED, PrintJob.Status.SENDING]
        )
        if busy.exists():
            raise PrinterBusy()
        PrintJob.objects.filter(printer=locked).delete()
        locked.delete()


def _test_template(shop, template_id: int | None) -> LabelTemplate:
    """The template a test page uses: the chosen one, the shop's default (first carrier),
    else the built-in one of the carrier of its first e-waybill service (ZTO otherwise)."""
    if template_id:
        chosen = LabelTemplate.objects.filter(shop=shop, pk=template_id).first()
        if chosen is None:
            raise ValidationError.for_fields(template="Not one of this shop's templates.")
        return chosen
    default = (
        LabelTemplate.objects.filter(shop=shop, is_default=True)
        .select_related("carrier")
        .order_by("carrier__code", "id")
        .first()
    )
    if default:
        return default
    used = Subscription.objects.filter(shop=shop).order_by("id").values("carrier_id")[:1]
    carrier = (
        Carrier.objects.filter(pk__in=used).first()
        or Carrier.objects.filter(code="ZTO").first()
        or Carrier.objects.order_by("code").first()
    )
    return services.template_for(shop=shop, carrier=carrier)


def printer_test(*, actor: Actor, printer: Printer, template_id: int | None = None) -> PrintJob:
    """A test page: a sample label (made-up data) as a one-document job, answered at once
    as queued. A Celery worker sends a network or USB printer's test page (with short
    time-outs: :data:`network.TEST_CONNECT_TIMEOUT` …), the job page polls until it is
    printed or failed with its reason; an agent printer's job waits for its agent. No
    web request ever waits on a printer."""
    actor.require(perms.PRINT)
    _own(actor, printer)
    _printer_ready(printer)
    template = _test_template(printer.shop, template_id)
    services.check_paper(template, printer)
    with transaction.atomic():
        job = PrintJob.objects.create(
            shop=printer.shop,
            printer=printer,
            template=template if template.pk else None,
            is_test=True,
            created_by=_user(actor),
            actor=actor.describe(),
        )
        PrintDocument.objects.create(job=job, waybill=None, sequence=1)
        _enqueue(job)
    return job


def _printer_ready(printer: Printer) -> None:
    if printer.connection == Connection.AGENT and (
        printer.agent_id is None or printer.agent.revoked_at is not None
    ):
        raise ValidationError.for_fields(
            printer="This printer's print agent is missing or revoked; choose another agent."
        )


# --- print agents ---------------------------------------------------------------------------


def agent_create(*, actor: Actor, name: str) -> tuple[PrintAgent, str]:
    """A print agent for a packing PC; returns it and its key, shown this once."""
    actor.require(perms.PRINT)
    shop = actor.require_shop()
    name = (name or "").strip()
    if not name or len(name) > 40:
        raise ValidationError.for_fields(name="1 to 40 characters.")
    key = "wbca_" + secrets.token_urlsafe(32)
    agent = PrintAgent.objects.create(
        shop=shop, name=name, key_hash=PrintAgent.hash_key(key), prefix=key[5:13]
    )
    return agent, key


def agent_revoke(*, actor: Actor, agent: PrintAgent) -> PrintAgent:
    """The key stops working at once; the agent's printers stay (point them elsewhere)."""
    actor.require(perms.PRINT)
    _own(actor, agent)
    PrintAgent.objects.filter(pk=agent.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    agent.refresh_from_db()
    return agent


def agent_authenticate(*, key: str) -> PrintAgent | None:
    """The agent holding ``key`` (not revoked, of a shop not deactivated); notes when it
    was last seen."""
    if not key:
        return None
    agent = (
        PrintAgent.objects.filter(
            key_hash=PrintAgent.hash_key(key), revoked_at__isnull=True, shop__is_active=True
        )
        .select_related("shop")
        .first()
    )
    if agent is None:
        return None
    now = timezone.now()
    if agent.last_seen_at is None or now - agent.last_seen_at > timedelta(seconds=10):
        PrintAgent.objects.filter(pk=agent.pk).update(last_seen_at=now)
        agent.last_seen_at = now
    return agent


# --- print jobs -----------------------------------------------------------------------------


def _user(actor: Actor):
    return actor.user if getattr(actor.user, "pk", None) else None


def _job_actor(job: PrintJob) -> Actor:
    """Labels are rendered (and their receivers revealed) on behalf of whoever asked."""
    return Actor(shop=job.shop, user=job.created_by, permissions=frozenset({perms.PRINT}))


def _waybills_by_no(actor: Actor, numbers: list) -> list[Waybill]:
    cleaned = [str(n).strip().upper() for n in numbers if str(n).strip()]
    rows: dict[str, list[Waybill]] = {}
    for w in (
        waybill_actionable(actor=actor)
        .filter(waybill_no__in=cleaned)
        .select_related("carrier", "order")
    ):
        rows.setdefault(w.waybill_no, []).append(w)
    found, missing, ambiguous = [], [], []
    for number in cleaned:
        candidates = rows.get(number, [])
        live = [w for w in candidates if w.status in LIVE_STATUSES]
        pick = live if live else candidates
        if not pick:
            missing.append(number)
        elif len(pick) > 1:
            ambiguous.append(number)
        else:
            found.append(pick[0])
    if missing:
        raise ValidationError.for_fields(
            waybills=f"Not this shop's waybill numbers: {missing[:10]}"
        )
    if ambiguous:
        raise ValidationError.for_fields(
            waybills="Two carriers issued these numbers; print them from the order list: "
            f"{ambiguous[:10]}"
        )
    return found


def _waybills_by_id(actor: Actor, ids: list) -> list[Waybill]:
    try:
        wanted = [int(i) for i in ids]
    except (TypeError, ValueError):
        raise ValidationError.for_fields(waybills="A list of waybill ids.") from None
    rows = {
        w.pk: w
        for w in waybill_actionable(actor=actor).filter(pk__in=wanted).select_related("order")
    }
    missing = [i for i in wanted if i not in rows]
    if missing:
        raise ValidationError.for_fields(waybills=f"Not this shop's waybills: {missing[:10]}")
    return [rows[i] for i in wanted]


def print_job_create(
    *,
    actor: Actor,
    printer: Printer,
    waybill_ids: list | None = None,
    waybill_nos: list | None = None,
    template_id: int | None = None,
) -> PrintJob:
    """Up to 50 live waybills to one printer; each becomes a document, marked as a reprint
    when its waybill was printed before. Templates and paper are checked now, so that a
    label that cannot fit is refused before anything is queued."""
    actor.require(perms.PRINT)
    shop = actor.require_shop()
    _own(actor, printer)
    given = waybill_nos if waybill_nos is not None else waybill_ids
    if not isinstance(given, list | tuple) or not given:
        raise ValidationError.for_fields(waybills="Choose at least one waybill.")
    if len(given) > JOB_LIMIT:
        raise PrintTooMany(limit=JOB_LIMIT, detail={"count": len(given)})
    _printer_ready(printer)
    if waybill_nos is not None:
        waybills = _waybills_by_no(actor, list(waybill_nos))
    else:
        waybills = _waybills_by_id(actor, list(waybill_ids))
    waybills = list({w.pk: w for w in waybills}.values())
    for w in waybills:
        if w.status not in LIVE_STATUSES:
            raise WaybillNotPrintable(
                status=w.get_status_display(), detail={"waybill_no": w.waybill_no}
            )
        services.printable(w)  # after-sale, or a receiver changed since the number was drawn
    template = None
    for carrier in {w.carrier_id: w.carrier for w in waybills}.values():
        chosen = services.template_for(shop=shop, carrier=carrier, template_id=template_id)
        services.check_paper(chosen, printer)
        if template_id:
            template = chosen
    with transaction.atomic():
        job = PrintJob.objects.create(
            shop=shop,
            printer=printer,
            template=template,
            created_by=_user(actor),
            actor=actor.describe(),
        )
        PrintDocument.objects.bulk_create(
            PrintDocument(job=job, waybill=w, sequence=i, is_reprint=w.print_count > 0)
            for i, w in enumerate(waybills, start=1)
        )
        _enqueue(job)
    return job


def _enqueue(job: PrintJob) -> None:
    """Network and USB jobs go to a Celery worker once the transaction commits; agent
    jobs wait for their agent's poll."""
    if job.printer.connection in SERVER_CONNECTIONS:
        job_id = job.pk
        transaction.on_commit(lambda: print_job_enqueue(job_id=job_id))


def print_job_enqueue(*, job_id: int) -> bool:
    """Send the job's task. With the broker unreachable the job stays queued (the request
    that recorded it still succeeds) and the sweep sends it once the broker is back."""
    from printing.tasks import send_print_job
    from waybill_console.jobs import task_send

    return task_send(send_print_job, job_id, what="print job")


def print_jobs_requeue_stalled() -> list[int]:
    """Send the task again for network/USB print jobs nobody will send otherwise: queued
    for longer than ``JOB_STALL_SECONDS`` (the message was never sent or was lost), or
    sending while no worker holds the job's lock (its worker died: the task then closes
    the dead attempt as failed, and 重试 sends only the unconfirmed labels, so nothing
    prints twice). At most once per stall time per job; one sweep at a time."""
    from django.core.cache import cache

    with advisory_lock("print-jobs:requeue-stalled") as got:
        if not got:
            return []
        before = timezone.now() - timedelta(seconds=settings.JOB_STALL_SECONDS)
        candidates = list(
            PrintJob.objects.filter(
                printer__connection__in=SERVER_CONNECTIONS,
                created_at__lt=before,
                status__in=(PrintJob.Status.QUEUED, PrintJob.Status.SENDING),
            )
            .order_by("created_at", "id")
            .values_list("pk", "status")[:100]
        )
        sent = []
        for job_id, status in candidates:
            if status == PrintJob.Status.SENDING:
                with advisory_lock(_lock_name(job_id)) as free:
                    if not free:
                        continue  # its worker is sending right now
            if not cache.add(f"print-jobs:resent:{job_id}", 1, settings.JOB_STALL_SECONDS):
                continue
            if not print_job_enqueue(job_id=job_id):
                cache.delete(f"print-jobs:resent:{job_id}")
                break
            sent.append(job_id)
    if sent:
        logger.warning("sent again the tasks of stalled print jobs %s", sent)
    return sent


def print_job_retry(*, actor: Actor, job: PrintJob) -> PrintJob:
    """Queue the job again: a failed job, a queued one (its task is sent again) or one whose
    sender is gone (a dead worker, an agent that did not report). The next attempt sends
    only the documents the printer has not confirmed."""
    actor.require(perms.PRINT)
    _own(actor, job)
    _printer_ready(job.printer)
    if job.status == PrintJob.Status.SENDING:
        _close_lost_attempt(job)
        job.refresh_from_db()
    if job.status not in (PrintJob.Status.FAILED, PrintJob.Status.QUEUED):
        raise PrintJobState(status=job.get_status_display())
    with transaction.atomic():
        PrintJob.objects.filter(
            pk=job.pk, status__in=[PrintJob.Status.FAILED, PrintJob.Status.QUEUED]
        ).update(
            status=PrintJob.Status.QUEUED,
            error=None,
            finished_at=None,
            claimed_by=None,
            claimed_at=None,
        )
        job.refresh_from_db()
        if job.status == PrintJob.Status.QUEUED:
            _enqueue(job)
    return job


def _close_lost_attempt(job: PrintJob) -> None:
    """A sending job whose sender is gone becomes failed (its open attempt is closed)."""
    if job.printer.connection == Connection.AGENT:
        if job.claimed_at and timezone.now() - job.claimed_at > AGENT_CLAIM_TIMEOUT:
            _fail_open_attempt(
                job.pk,
                PrintInterrupted(_("The print agent took the job but did not report a result.")),
            )
        return
    with advisory_lock(_lock_name(job.pk)) as got:
        if got:  # a live sender holds this lock: nobody does, so it died
            _fail_open_attempt(
                job.pk,
                PrintInterrupted(_("Sending stopped before the printer confirmed (interrupted).")),
            )


def _fail_open_attempt(job_id: int, err: AppError) -> None:
    now = timezone.now()
    with transaction.atomic():
        job = PrintJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status != PrintJob.Status.SENDING:
            return
        reason = _reason_text(err)
        job.attempts.filter(finished_at__isnull=True).update(
            finished_at=now, outcome=PrintAttempt.Outcome.FAILED, reason=reason
        )
        PrintJob.objects.filter(pk=job_id).update(
            status=PrintJob.Status.FAILED, finished_at=now, error=_error_dict(err)
        )


def _start_attempt(job_id: int, *, transport: str, agent: PrintAgent | None = None):
    """Queued → sending with a new attempt over the unconfirmed documents (in one
    transaction, the job row locked); ``None`` when the job is not queued."""
    now = timezone.now()
    with transaction.atomic():
        job = (
            PrintJob.objects.select_for_update(of=("self",))
            .select_related("printer", "shop", "created_by")
            .filter(pk=job_id)
            .first()
        )
        if job is None or job.status != PrintJob.Status.QUEUED:
            return None
        pending = list(
            job.documents.filter(confirmed_at__isnull=True)
            .order_by("sequence")
            .values_list("sequence", flat=True)
        )
        attempt = PrintAttempt.objects.create(
            job=job, started_at=now, documents=pending, transport=transport
        )
        job.status = PrintJob.Status.SENDING
        job.error = None
        job.finished_at = None
        update = ["status", "error", "finished_at"]
        if agent is not None:
            job.claimed_by, job.claimed_at = agent, now
            update += ["claimed_by", "claimed_at"]
        job.save(update_fields=update)
    return job, attempt


def _pending_documents(job: PrintJob, attempt: PrintAttempt) -> list[PrintDocument]:
    return list(
        job.documents.filter(sequence__in=attempt.documents, confirmed_at__isnull=True)
        .select_related("waybill", "waybill__carrier", "waybill__shop", "waybill__order")
        .order_by("sequence")
    )


def document_render(job: PrintJob, document: PrintDocument) -> bytes:
    """The label's bytes in the printer's language (a test page: sample data)."""
    printer = job.printer
    if document.waybill_id is None:
        template = job.template or _test_template(job.shop, None)
        services.check_paper(template, printer)
        data = services.sample_data(template)
        with translation.override(settings.LANGUAGE_CODE):
            mark = str(_("Test page %(printer)s %(dpi)s dpi"))
        data = replace(data, free_text=mark % {"printer": printer.name, "dpi": printer.dpi})
        return render(
            printer.kind,
            services.template_layout(template),
            data,
            dpi=printer.dpi,
            grayscale=template.grayscale or printer.grayscale,
            offset_mm=(float(printer.offset_x_mm), float(printer.offset_y_mm)),
        )
    body, _template = services.label_render(
        actor=_job_actor(job),
        waybill=document.waybill,
        fmt=printer.kind,
        template_id=job.template_id,
        printer=printer,
        count=False,
    )
    return body


def _confirm(attempt: PrintAttempt, document: PrintDocument, sent: int) -> None:
    """The printer confirmed the document: it is printed once (counted once)."""
    now = timezone.now()
    with transaction.atomic():
        updated = PrintDocument.objects.filter(pk=document.pk, confirmed_at__isnull=True).update(
            confirmed_at=now
        )
        if updated and document.waybill_id:
            services.prints_record(waybill_ids=[document.waybill_id], at=now)
        attempt.confirmed = [*attempt.confirmed, document.sequence]
        attempt.bytes_sent += sent
        PrintAttempt.objects.filter(pk=attempt.pk).update(
            confirmed=attempt.confirmed, bytes_sent=F("bytes_sent") + sent
        )


def _transport_error(err: TransportError) -> AppError:
    cause = CAUSES.get(err.detail, err.detail)
    if err.kind == OFFLINE:
        return PrinterOffline(reason=cause, detail={"reason": err.detail})
    if err.kind == DROPPED:
        return PrintInterrupted(
            cause=cause,
            sent=err.sent,
            total=err.total,
            detail={"reason": err.detail, "sent": err.sent, "total": err.total},
        )
    if err.kind == UNCONFIRMED:
        return PrintNotConfirmed(
            seconds=int(err.seconds),
            sent=err.sent,
            total=err.total,
            detail={"sent": err.sent, "total": err.total},
        )
    if err.kind == BLOCKED:
        what = _("port") if err.detail == "port" else _("address")
        return PrinterAddressNotAllowed(what=what, detail={"reason": err.detail})
    return PrintFailed(reason=cause, detail={"reason": err.detail})


def _reason_text(err: AppError, document: PrintDocument | None = None) -> str:
    """The attempt's reason in the console's language (it is stored, not re-rendered)."""
    with translation.override(settings.LANGUAGE_CODE):
        text = err.render_message()
        if document is not None:
            label = document.waybill.waybill_no if document.waybill_id else str(_("test page"))
            text = str(_("Label %(sequence)s (%(label)s): %(reason)s")) % {
                "sequence": document.sequence,
                "label": label,
                "reason": text,
            }
    return text[:200]


def _error_dict(err: AppError, document: PrintDocument | None = None) -> dict:
    with translation.override(settings.LANGUAGE_CODE):
        body = err.as_dict()
    body["message"] = _reason_text(err, document)
    if document is not None:
        body["detail"] = {
            **body["detail"],
            "sequence": document.sequence,
            "waybill_no": document.waybill.waybill_no if document.waybill_id else "",
        }
    return body


def _finish(
    job: PrintJob,
    attempt: PrintAttempt,
    *,
    error: AppError | None = None,
    document: PrintDocument | None = None,
    extra_bytes: int = 0,
) -> PrintJob:
    """Close the attempt; the job is printed when every document is confirmed, else failed
    (and can be retried)."""
    now = timezone.now()
    with transaction.atomic():
        remaining = job.documents.filter(confirmed_at__isnull=True).exists()
        if error is None and remaining:  # documents left out of this attempt
            error = PrintInterrupted(_("Some labels were not sent; retry to send them."))
        PrintAttempt.objects.filter(pk=attempt.pk).update(
            finished_at=now,
            outcome=PrintAttempt.Outcome.FAILED if error else PrintAttempt.Outcome.OK,
            reason=_reason_text(error, document) if error else "",
            bytes_sent=F("bytes_sent") + extra_bytes,
        )
        PrintJob.objects.filter(pk=job.pk, status=PrintJob.Status.SENDING).update(
            status=PrintJob.Status.FAILED if error else PrintJob.Status.PRINTED,
            finished_at=now,
            error=_error_dict(error, document) if error else None,
        )
    job.refresh_from_db()
    return job


def print_job_send(*, job_id: int) -> str:
    """Send a queued network or USB job (the Celery task's body); returns the job's status.

    Runs under the job's advisory lock: a second delivery of the task while the first
    still sends does nothing; one that finds the job sending with nobody holding the
    lock closes the dead sender's attempt as failed (the user retries)."""
    with advisory_lock(_lock_name(job_id)) as got:
        if not got:
            return "busy"
        job = PrintJob.objects.select_related("printer").filter(pk=job_id).first()
        if job is None:
            return "missing"
        if job.printer.connection not in SERVER_CONNECTIONS:
            return job.status
        if job.status == PrintJob.Status.SENDING:
            _fail_open_attempt(
                job_id,
                PrintInterrupted(_("Sending stopped before the printer confirmed (interrupted).")),
            )
            return PrintJob.Status.FAILED
        started = _start_attempt(job_id, transport=job.printer.connection)
        if started is None:
            return job.status
        job, attempt = started
        return _send_attempt(job, attempt).status


def _send_attempt(job: PrintJob, attempt: PrintAttempt) -> PrintJob:
    printer = job.printer
    documents = _pending_documents(job, attempt)
    document = None
    try:
        if printer.connection == Connection.USB:
            with usb.connect(printer.usb_vendor_id, printer.usb_product_id) as device:
                for document in documents:
                    data = document_render(job, document)
                    _confirm(attempt, document, usb.send(device, data))
        else:
            timeouts = {}
            if job.is_test:
                timeouts = {
                    "connect_timeout": network.TEST_CONNECT_TIMEOUT,
                    "send_timeout": network.TEST_SEND_TIMEOUT,
                    "confirm_timeout": network.TEST_CONFIRM_TIMEOUT,
                }
            for document in documents:
                data = document_render(job, document)
                sent = network.send(printer.host, printer.port, data, **timeouts)
                _confirm(attempt, document, sent)
    except TransportError as err:
        return _finish(
            job, attempt, error=_transport_error(err), document=document, extra_bytes=err.sent
        )
    except AppError as err:  # the label cannot be rendered (cancelled meanwhile, paper)
        return _finish(job, attempt, error=err, document=document)
    return _finish(job, attempt)


# --- the print agent's jobs -----------------------------------------------------------------


def _agent_expire_claims(agent: PrintAgent) -> None:
    """Jobs of this agent's printers claimed long ago and never reported become failed."""
    stale = PrintJob.objects.filter(
        printer__agent=agent,
        status=PrintJob.Status.SENDING,
        claimed_at__lt=timezone.now() - AGENT_CLAIM_TIMEOUT,
    ).values_list("pk", flat=True)
    for job_id in list(stale):
        _fail_open_attempt(
            job_id,
            PrintInterrupted(_("The print agent took the job but did not report a result.")),
        )


def agent_job_claim(*, agent: PrintAgent) -> dict | None:
    """The oldest queued job of the agent's printers (``SKIP LOCKED``: two polls never get
    the same job) with its unconfirmed documents rendered; ``None`` when there is none.
    A job whose labels cannot be rendered fails at once and the next one is tried."""
    _agent_expire_claims(agent)
    while True:
        with transaction.atomic():
            job_id = (
                PrintJob.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(
                    printer__agent=agent,
                    printer__connection=Connection.AGENT,
                    status=PrintJob.Status.QUEUED,
                )
                .order_by("created_at", "id")
                .values_list("pk", flat=True)
                .first()
            )
            started = _start_attempt(job_id, transport="agent", agent=agent) if job_id else None
        if started is None:
            return None
        job, attempt = started
        documents = _pending_documents(job, attempt)
        rendered, document = [], None
        try:
            for document in documents:
                rendered.append((document, document_render(job, document)))
        except AppError as err:
            _finish(job, attempt, error=err, document=document)
            continue
        return agent_wire.job_payload(job, attempt, rendered)


def agent_job_get(*, agent: PrintAgent, job_id: int) -> PrintJob:
    """A job this agent claimed (any other: 404, before its input is even read)."""
    job = (
        PrintJob.objects.select_related("printer")
        .filter(pk=job_id, claimed_by=agent, shop=agent.shop)
        .first()
    )
    if job is None:
        raise NotFound()
    return job


def agent_job_report(*, agent: PrintAgent, job_id: int, attempt_id: int, results: list) -> PrintJob:
    """The agent's results for one attempt, recorded like the server's own transports:
    each confirmed document is printed once, the first failure is the attempt's reason.
    Reporting the same attempt again changes nothing."""
    job = agent_job_get(agent=agent, job_id=job_id)
    parsed = agent_wire.results_parse(results)
    with transaction.atomic():
        attempt = PrintAttempt.objects.select_for_update().filter(pk=attempt_id, job=job).first()
        if attempt is None:
            raise NotFound()
        if attempt.finished_at is not None or job.status != PrintJob.Status.SENDING:
            return job
        documents = {d.sequence: d for d in _pending_documents(job, attempt)}
        failed, failed_document, extra = None, None, 0
        for result in parsed:
            document = documents.get(result.sequence)
            if document is None:
                continue
            if result.ok:
                _confirm(attempt, document, result.bytes_sent)
            elif failed is None:
                failed, failed_document = _transport_error(result.error), document
                extra = result.bytes_sent
        return _finish(job, attempt, error=failed, document=failed_document, extra_bytes=extra)
