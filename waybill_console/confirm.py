"""A confirmation step for actions that cannot be undone (批量发货, the factory's 发货),
enforced by the server.

A door whose action is irreversible answers a POST without ``confirm=1`` with
:func:`confirmation` instead of acting: a page that says what will happen and to how
many orders, with a form that posts the same fields again (every value it received, as
hidden inputs) plus ``confirm=1``, and a way back that does nothing. No JavaScript
``confirm()``: it works from the keyboard (the confirm button has the focus), and a POST
cannot skip it.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

CONFIRM_FIELD = "confirm"
#: what is not carried over to the confirmed POST (the page renders a fresh CSRF token)
_NOT_CARRIED = frozenset({"csrfmiddlewaretoken", CONFIRM_FIELD})
#: at most this many notes are listed (the rest are counted)
NOTES_SHOWN = 20


def confirmed(request: HttpRequest) -> bool:
    """Whether the POST comes from the confirmation page."""
    return request.POST.get(CONFIRM_FIELD) == "1"


def confirmation(
    request: HttpRequest,
    *,
    title: str,
    question: str,
    confirm_label: str,
    back: str,
    notes: Sequence[str] = (),
) -> HttpResponse:
    """The confirmation page for the POST being answered: ``question`` (with the count),
    optional ``notes`` (what will be refused and why), the confirm button that posts the
    same fields to the same address with ``confirm=1``, and a link ``back`` (nothing
    done)."""
    fields = [
        (name, value)
        for name in request.POST
        if name not in _NOT_CARRIED
        for value in request.POST.getlist(name)
    ]
    return render(
        request,
        "components/confirm.html",
        {
            "title": title,
            "question": question,
            "confirm_label": confirm_label,
            "back": back,
            "action": request.get_full_path(),
            "fields": fields,
            "notes": list(notes[:NOTES_SHOWN]),
            "notes_more": max(0, len(notes) - NOTES_SHOWN),
        },
    )


def ship_confirmation(
    request: HttpRequest, *, count: int, back: str, notes: Sequence[str] = ()
) -> HttpResponse:
    """确认发货 N 个订单？此操作不可撤销。 — the shipping doors' confirmation."""
    return confirmation(
        request,
        title=_("Confirm shipping"),
        question=ngettext(
            "Ship %(count)s order? This cannot be undone.",
            "Ship %(count)s orders? This cannot be undone.",
            count,
        )
        % {"count": count},
        confirm_label=_("Confirm and ship"),
        back=back,
        notes=notes,
    )
