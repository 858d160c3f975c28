"""Print agents: the program on a packing PC that prints to its local printers.

An agent is created with a key (shown once), authenticates with it, claims the oldest
queued job of its printers (:func:`agent_job_claim`) and reports each document's result
(:func:`agent_job_report`), recorded like the server's own transports
(:mod:`printing.attempts`).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from printing.attempts import (
    confirm,
    document_render,
    fail_open_attempt,
    finish,
    pending_documents,
    start_attempt,
    transport_error,
)
from printing.errors import PrintInterrupted
from printing.models import Connection, PrintAgent, PrintAttempt, PrintJob
from printing.printers import own
from printing.transports import agent as agent_wire
from waybill_console import permissions as perms
from waybill_console.errors import AppError, NotFound, ValidationError
from waybill_console.tenancy import Actor

#: an agent that claimed a job and did not report within this has lost it
AGENT_CLAIM_TIMEOUT = timedelta(minutes=5)
#: the longest ``?wait=`` of the agent's long poll
AGENT_WAIT_MAX = 25


def agent_create(*, actor: Actor, name: str) -> tuple[PrintAgent, str]:
    """A print agent for a packing PC; returns it and its key, shown this once."""
    actor.require(perms.PRINT)
    shop = actor.require_shop()
    name = (name or "").strip()
    if not name or len(name) > 40:
        raise ValidationError.for_fields(name=_("1 to 40 characters."))
    key = "wbca_" + secrets.token_urlsafe(32)
    agent = PrintAgent.objects.create(
        shop=shop, name=name, key_hash=PrintAgent.hash_key(key), prefix=key[5:13]
    )
    return agent, key


def agent_revoke(*, actor: Actor, agent: PrintAgent) -> PrintAgent:
    """The key stops working at once; the agent's printers stay (point them elsewhere)."""
    actor.require(perms.PRINT)
    own(actor, agent)
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


# --- the print agent's jobs -----------------------------------------------------------------


def _agent_expire_claims(agent: PrintAgent) -> None:
    """Jobs of this agent's printers claimed long ago and never reported become failed."""
    stale = PrintJob.objects.filter(
        printer__agent=agent,
        status=PrintJob.Status.SENDING,
        claimed_at__lt=timezone.now() - AGENT_CLAIM_TIMEOUT,
    ).values_list("pk", flat=True)
    for job_id in list(stale):
        fail_open_attempt(
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
            started = start_attempt(job_id, transport="agent", agent=agent) if job_id else None
        if started is None:
            return None
        job, attempt = started
        documents = pending_documents(job, attempt)
        rendered, document = [], None
        try:
            for document in documents:
                rendered.append((document, document_render(job, document)))
        except AppError as err:
            finish(job, attempt, error=err, document=document)
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
        documents = {d.sequence: d for d in pending_documents(job, attempt)}
        failed, failed_document, extra = None, None, 0
        for result in parsed:
            document = documents.get(result.sequence)
            if document is None:
                continue
            if result.ok:
                confirm(attempt, document, result.bytes_sent)
            elif failed is None:
                failed, failed_document = transport_error(result.error), document
                extra = result.bytes_sent
        return finish(job, attempt, error=failed, document=failed_document, extra_bytes=extra)
