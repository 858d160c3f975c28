"""修改收件信息: the receiver form of an order (from its page or from its 面单异常), with
智能粘贴 (a pasted line split into the fields), and 重试 of the exception afterwards."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from shops import selectors as shop_selectors
from shops.services.order_intake import order_reveal_receiver
from shops.services.receiver_paste import receiver_parse
from shops.views import shop_required
from waybill_console import permissions as perms
from waybill_console.errors import AppError, ValidationError
from waybills import selectors
from waybills.services.receiver_edit import RECEIVER_PROBLEM_CODES, order_receiver_change

#: the form's fields, in the order of ``clean_receiver``, with the labels a person reads
FIELD_LABELS = {
    "name": gettext_lazy("Name"),
    "phone": gettext_lazy("Phone"),
    "province": gettext_lazy("Province"),
    "city": gettext_lazy("City"),
    "district": gettext_lazy("District"),
    "detail": gettext_lazy("Detailed address"),
}
TEMPLATE = "console/waybills/receiver_edit.html"


def _field_problems(err: AppError) -> dict[str, list[str]]:
    """Each form field's translated problems (``receiver.phone`` → ``phone``)."""
    out: dict[str, list[str]] = {}
    if not isinstance(err, ValidationError):
        return out
    for key, problems in (err.detail or {}).items():
        if not isinstance(problems, list | tuple):
            problems = [problems]
        out[str(key).removeprefix("receiver.")] = [_(str(p)) for p in problems]
    return out


def _error_lines(err: AppError, problems: dict[str, list[str]]) -> list[str]:
    """What the box above the form says: each field by its label, never by its key."""
    if not problems:
        return [err.render_message()]
    return [
        _("%(field)s: %(problem)s")
        % {"field": FIELD_LABELS.get(field, _("Receiver")), "problem": p}
        for field, texts in problems.items()
        for p in texts
    ]


def parse_note(parsed: dict) -> str:
    """One line on what the paste gave: the fields it could not find, by their labels."""
    missing = [str(FIELD_LABELS[f]) for f in parsed["missing"] if f in FIELD_LABELS]
    if len(missing) == len(FIELD_LABELS):
        return _("Nothing recognised: type the receiver into the fields.")
    if not missing:
        return _("All fields recognised: check them, then save.")
    return _("Recognised; not found: %(fields)s. Fill them in, then save.") % {
        "fields": _(", ").join(missing)
    }


def _initial(request: HttpRequest, order) -> dict[str, str]:
    """The current receiver: in full for whoever may see consumer information (an audited
    view), the region alone otherwise (name, phone and street typed or pasted anew)."""
    if request.actor.has(perms.CONSUMER_VIEW):
        return order_reveal_receiver(actor=request.actor, order=order, purpose="receiver_edit")
    return {
        "name": "",
        "phone": "",
        "province": order.receiver_province,
        "city": order.receiver_city,
        "district": order.receiver_district,
        "detail": "",
    }


def _render(request: HttpRequest, order, values: dict, *, status: int = 200, **extra):
    exception = selectors.exception_list(actor=request.actor).filter(order_id=order.pk).first()
    fixed = bool(
        exception and order.address_changed_at and order.address_changed_at > exception.updated_at
    )
    fields = [
        {"name": f, "label": label, "value": values.get(f, ""), "errors": []}
        for f, label in FIELD_LABELS.items()
    ]
    for field in fields:
        field["errors"] = extra.get("problems", {}).get(field["name"], [])
    context = {
        "order": order,
        "fields": fields,
        "exception": exception,
        "receiver_problem": exception is not None and exception.code in RECEIVER_PROBLEM_CODES,
        "fixed": fixed,
        "masked": {
            "name": order.receiver_name_masked,
            "phone": order.receiver_phone_masked,
        },
        **extra,
    }
    return render(request, TEMPLATE, context, status=status)


@shop_required
def order_receiver_edit(request: HttpRequest, order_id: int) -> HttpResponse:
    """GET: the form with the current receiver. POST ``parse``: the pasted text split into
    the fields (without JavaScript). POST: save through the one service; a refusal shows
    the form again with what was typed and each problem next to its field."""
    order = shop_selectors.order_get(actor=request.actor, order_id=order_id)
    request.actor.require(perms.ORDER_MANAGE)
    if request.method != "POST":
        return _render(request, order, _initial(request, order))
    values = {f: request.POST.get(f, "") for f in FIELD_LABELS}
    if request.POST.get("parse"):
        parsed = receiver_parse(request.POST.get("paste", ""))
        values.update({f: parsed[f] for f in FIELD_LABELS if parsed[f]})
        return _render(
            request, order, values, paste=request.POST.get("paste", ""), note=parse_note(parsed)
        )
    try:
        order = order_receiver_change(actor=request.actor, order=order, receiver=values)
    except AppError as err:
        problems = _field_problems(err)
        return _render(
            request,
            order,
            values,
            status=err.status,
            problems=problems,
            error_lines=_error_lines(err, problems),
        )
    messages.success(request, _("The receiver was changed."))
    if selectors.exception_list(actor=request.actor).filter(order_id=order.pk).exists():
        # opened from a 面单异常 (or the order has one): stay, the page offers 重试
        return redirect("console:order_receiver_edit", order_id=order.pk)
    return redirect("console:order_detail", order_id=order.pk)


@shop_required
@require_POST
def receiver_paste_parse(request: HttpRequest) -> HttpResponse:
    """智能粘贴 for the page's script: the fields found in ``text`` (JSON), with a note that
    names what was not found by its label. Reads nothing stored."""
    parsed = receiver_parse(request.POST.get("text", ""))
    return JsonResponse(
        {
            "fields": {f: parsed[f] for f in FIELD_LABELS if parsed[f]},
            "missing": [f for f in parsed["missing"] if f in FIELD_LABELS],
            "note": parse_note(parsed),
        }
    )
