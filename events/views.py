"""Pages of webhooks (推送设置), in the ``console`` namespace (the factory portal links here
too): the endpoints, the form, the secret shown once, an endpoint's delivery log with
重发, and one delivery's attempts. Doors to :mod:`events.services.endpoints`."""

from __future__ import annotations

import re

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from events import forms, types
from events.models import Delivery, DeliveryStatus, Endpoint
from events.services import endpoints as services
from shops.views import shop_required
from waybill_console.confirm import confirmation, confirmed
from waybill_console.errors import AppError
from waybill_console.field_labels import error_text

PAGE_SIZE = 50


# --- what a person reads -----------------------------------------------------------------------


def event_label(type_name: str) -> str:
    return types.label(type_name)


def _when(value) -> str:
    return formats.date_format(timezone.localtime(value), "Y-m-d H:i") if value else ""


def endpoint_state(endpoint: Endpoint) -> dict:
    """启用 / 失败中（自 …起） / 已停用, as a badge's text and its tone."""
    if not endpoint.is_enabled:
        if endpoint.disabled_reason and endpoint.failing_since:
            text = _("Disabled: failing since %(time)s") % {"time": _when(endpoint.failing_since)}
        else:
            text = _("Disabled")
        return {"text": text, "tone": "warn"}
    if endpoint.failing_since:
        text = _("Failing since %(time)s") % {"time": _when(endpoint.failing_since)}
        return {"text": text, "tone": "warn"}
    return {"text": _("Enabled"), "tone": ""}


_HTTP = re.compile(r"^HTTP (\d{3})$")


def delivery_error(raw: str) -> str:
    """The sender's note on a failed attempt, in the page's language (the API keeps it as
    it was written)."""
    if not raw:
        return ""
    if found := _HTTP.match(raw):
        return _("The endpoint answered HTTP %(status)s") % {"status": found[1]}
    if raw == "timed out":
        return _("Timed out")
    if raw.startswith("address not allowed:"):
        address = raw.split(":", 1)[1].strip()
        return _("Address not allowed: %(address)s") % {"address": address}
    if raw == "gave up":
        return _("Not delivered within a day of retries")
    return _("Could not connect")


def _events_text(endpoint: Endpoint) -> str:
    if not endpoint.event_types:
        return _("All events")
    from django.utils.translation import pgettext

    sep = pgettext("list separator", ", ")
    return sep.join(event_label(name) for name in endpoint.event_types)


def _decorate(endpoint: Endpoint) -> Endpoint:
    endpoint.state = endpoint_state(endpoint)
    endpoint.events_text = _events_text(endpoint)
    return endpoint


def _decorate_delivery(delivery: Delivery) -> Delivery:
    delivery.event_label = event_label(delivery.event.type)
    delivery.error_text = delivery_error(delivery.last_error)
    return delivery


# --- endpoints --------------------------------------------------------------------------------


@shop_required
def webhook_list(request: HttpRequest) -> HttpResponse:
    found = [_decorate(e) for e in services.endpoint_list(actor=request.actor)]
    return render(
        request,
        "console/events/webhook_list.html",
        {"endpoints": found, "limit": services.ENDPOINT_LIMIT},
    )


def _form(request: HttpRequest, endpoint: Endpoint | None) -> HttpResponse:
    values, error, status = forms.endpoint_initial(endpoint), None, 200
    if request.method == "POST":
        values = forms.endpoint_values(request.POST)
        try:
            if endpoint is None:
                created, secret = services.endpoint_create(actor=request.actor, **values)
                return _secret_page(request, created, secret, rotated=False)
            services.endpoint_update(actor=request.actor, endpoint_id=endpoint.pk, **values)
        except AppError as err:
            error, status = err, err.status
        else:
            messages.success(request, _("Webhook endpoint saved."))
            return redirect("console:webhook_detail", endpoint_id=endpoint.pk)
    field_errors = {
        name: problems
        for name, problems in ((error.detail or {}).items() if error else ())
        if isinstance(problems, list)
    }
    return render(
        request,
        "console/events/webhook_form.html",
        {
            "endpoint": endpoint,
            "values": values,
            "event_types": forms.event_type_choices(values["event_types"]),
            "error": error and error.as_dict(),
            "field_errors": field_errors,
        },
        status=status,
    )


@shop_required
def webhook_new(request: HttpRequest) -> HttpResponse:
    services.endpoint_list(actor=request.actor)  # the permission, before the form shows
    return _form(request, None)


@shop_required
def webhook_edit(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    return _form(request, services.endpoint_get(actor=request.actor, endpoint_id=endpoint_id))


def _secret_page(request, endpoint: Endpoint, secret: str, *, rotated: bool) -> HttpResponse:
    """The one page that shows the secret: not stored by the browser or a proxy."""
    response = render(
        request,
        "console/events/webhook_secret.html",
        {"endpoint": _decorate(endpoint), "secret": secret, "rotated": rotated},
    )
    response["Cache-Control"] = "no-store"
    return response


@shop_required
def webhook_detail(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _decorate(services.endpoint_get(actor=request.actor, endpoint_id=endpoint_id))
    status = request.GET.get("status", "")
    if status not in DeliveryStatus.values:
        status = ""
    found = services.delivery_list(actor=request.actor, endpoint_id=endpoint.pk, status=status)
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [_decorate_delivery(d) for d in page.object_list]
    return render(
        request,
        "console/events/webhook_detail.html",
        {
            "endpoint": endpoint,
            "page": page,
            "deliveries": rows,
            "status": status,
            "statuses": DeliveryStatus.choices,
            "waiting": any(d.status == DeliveryStatus.PENDING for d in rows),
            "query": request.GET.urlencode(),
        },
    )


@shop_required
@require_POST
def webhook_delete(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = services.endpoint_get(actor=request.actor, endpoint_id=endpoint_id)
    if not confirmed(request):
        return confirmation(
            request,
            title=_("Delete webhook endpoint"),
            question=_(
                "Delete the webhook endpoint %(url)s? Its delivery log goes with it; "
                "this cannot be undone."
            )
            % {"url": endpoint.url},
            confirm_label=_("Delete"),
            back=reverse("console:webhook_detail", args=[endpoint.pk]),
        )
    services.endpoint_delete(actor=request.actor, endpoint_id=endpoint.pk)
    messages.success(request, _("Webhook endpoint %(url)s deleted.") % {"url": endpoint.url})
    return redirect("console:webhook_list")


@shop_required
@require_POST
def webhook_rotate(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = services.endpoint_get(actor=request.actor, endpoint_id=endpoint_id)
    if not confirmed(request):
        return confirmation(
            request,
            title=_("Rotate signing secret"),
            question=_(
                "Make a new signing secret for %(url)s? The current one stops working at "
                "once: the receiver must verify with the new one."
            )
            % {"url": endpoint.url},
            confirm_label=_("Rotate secret"),
            back=reverse("console:webhook_detail", args=[endpoint.pk]),
        )
    endpoint, secret = services.endpoint_rotate_secret(actor=request.actor, endpoint_id=endpoint.pk)
    return _secret_page(request, endpoint, secret, rotated=True)


def _back_to_log(endpoint_id: int, query: str = "") -> HttpResponse:
    url = reverse("console:webhook_detail", args=[endpoint_id])
    allowed = {k: v for k, v in _query(query).items() if k in ("status", "page")}
    return redirect(f"{url}?{urlencode(allowed)}#deliveries" if allowed else f"{url}#deliveries")


def _query(query: str) -> dict:
    from django.http import QueryDict

    return QueryDict(query).dict()


@shop_required
@require_POST
def webhook_test(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    try:
        services.endpoint_send_test(actor=request.actor, endpoint_id=endpoint_id)
    except AppError as err:
        if err.status in (403, 404):
            raise
        messages.error(request, error_text(err))
    else:
        messages.success(
            request, _("A test message is on its way: its delivery shows in the log below.")
        )
    return _back_to_log(endpoint_id)


@shop_required
@require_POST
def webhook_resend(request: HttpRequest, endpoint_id: int, delivery_id: int) -> HttpResponse:
    try:
        services.delivery_resend(
            actor=request.actor, endpoint_id=endpoint_id, delivery_id=delivery_id
        )
    except AppError as err:
        if err.status in (403, 404):
            raise
        messages.error(request, error_text(err))
    else:
        messages.success(request, _("The delivery is being sent again."))
    return _back_to_log(endpoint_id, request.POST.get("query", ""))


@shop_required
def webhook_delivery(request: HttpRequest, endpoint_id: int, delivery_id: int) -> HttpResponse:
    delivery = _decorate_delivery(
        services.delivery_get(actor=request.actor, endpoint_id=endpoint_id, delivery_id=delivery_id)
    )
    attempts = list(delivery.attempt_log.all())
    for attempt in attempts:
        attempt.error_text = delivery_error(attempt.error)
    return render(
        request,
        "console/events/webhook_delivery.html",
        {"endpoint": _decorate(delivery.endpoint), "delivery": delivery, "attempts": attempts},
    )
