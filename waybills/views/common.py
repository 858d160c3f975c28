"""What the waybill pages share: where to go back after a POST, how a success and a
refusal answer (htmx or a plain form), how an error reads, and input parsing."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from waybill_console.errors import AppError, page_error
from waybill_console.field_labels import error_text as field_error_text

PAGE_SIZE = 50


def next_url(request: HttpRequest, default: str) -> str:
    """Where to go back to after a POST: the page's own ``next``, if it is ours."""
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def done(request: HttpRequest, back: str) -> HttpResponse:
    """After a successful action: htmx follows ``HX-Redirect``, a plain form a redirect."""
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = back
        return response
    return redirect(back)


def refused(request: HttpRequest, err: AppError, back: str) -> HttpResponse:
    """A refusal: in place for htmx (next to the button), as a page message otherwise."""
    if request.htmx:
        return page_error(request, err)
    messages.error(request, error_text(err))
    return redirect(back)


def error_text(err: AppError) -> str:
    """The message, followed by the fields it names by their labels (the kernel's one
    rule: :func:`waybill_console.field_labels.error_text`)."""
    return field_error_text(err)


def field_errors(err: AppError) -> dict[str, list[str]]:
    """The translated problems of each field an error names, for the form's fields."""
    out = {}
    for field, problems in (err.detail or {}).items():
        if not isinstance(problems, list | tuple):
            problems = [problems]
        out[field] = [_(str(p)) for p in problems]
    return out


def int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def factory_numbers_confirmation(request: HttpRequest, order, back: str) -> HttpResponse | None:
    """取号 (and 取号并打印) on an order a factory already numbered (代发): the merchant's
    number would make one more parcel, so the page asks first (the server's step: a POST
    without ``confirm=1`` gets the question); None when there is nothing to ask."""
    from waybill_console.confirm import confirmation, confirmed
    from waybills import selectors

    numbers = selectors.factory_numbers_for_order(actor=request.actor, order_id=order.pk)
    if not numbers or confirmed(request):
        return None
    return confirmation(
        request,
        title=_("Allocate a waybill number"),
        question=_(
            "A factory already shipped part of order %(order_no)s with its own waybill "
            "numbers (%(numbers)s). Allocate a number of your own as well? It makes one "
            "more parcel: only do so for the items the factory does not ship."
        )
        % {"order_no": order.order_no, "numbers": "、".join(numbers)},
        confirm_label=_("Allocate anyway"),
        back=back,
    )
