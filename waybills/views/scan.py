"""扫描发货: a scan gun (keyboard wedge) types a waybill number or an order number and Enter;
the order opens with its items to check; Enter again (an empty scan, or the same label
scanned again) ships it with ``waybill_ship``.

One form posts everything: ``code`` (what was scanned) and, while an order is open, the
hidden ``order``, ``waybill_no`` (the number it ships under) and ``opened_by`` (the scan
that opened it). htmx swaps the result in place (``static/js/scan.js`` beeps and puts the
cursor back); without JavaScript the same form renders the whole page.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from shops import selectors as shop_selectors
from shops.views import shop_required
from waybill_console import permissions as perms
from waybill_console.errors import AppError
from waybills import selectors, services
from waybills.views.common import int_or_none

PAGE = "console/waybills/scan.html"
RESULT = "console/waybills/_scan_result.html"


@shop_required
def scan_page(request: HttpRequest) -> HttpResponse:
    request.actor.require(perms.SHIP)
    if request.method != "POST":
        return render(request, PAGE, {"result": {"outcome": "idle"}})
    result, status = _scan(request)
    return render(request, RESULT if request.htmx else PAGE, {"result": result}, status=status)


def _scan(request: HttpRequest) -> tuple[dict, int]:
    code = request.POST.get("code", "").strip()
    order_id = int_or_none(request.POST.get("order"))
    waybill_no = request.POST.get("waybill_no", "").strip()
    opened_by = request.POST.get("opened_by", "").strip()
    if order_id and (not code or code == opened_by or code.upper() == waybill_no.upper()):
        return _ship(request, order_id=order_id, waybill_no=waybill_no, opened_by=opened_by)
    if not code:
        return {"outcome": "idle"}, 200
    try:
        match = selectors.scan_find(actor=request.actor, code=code)
    except AppError as err:
        return _refused(err), err.status
    if match.refusal is not None:
        return _refused(match.refusal, match=match), match.refusal.status
    message = _("Check the items, then press Enter to ship.")
    return {"outcome": "found", "message": message, "match": match, "opened_by": code}, 200


def _ship(request: HttpRequest, *, order_id: int, waybill_no: str, opened_by: str):
    """Ship the open order; the service decides (ALREADY_SHIPPED, ORDER_BLOCKED…)."""
    try:
        order = shop_selectors.order_get(actor=request.actor, order_id=order_id)
        order = services.waybill_ship(
            actor=request.actor,
            order=order,
            waybill_no=waybill_no,
            return_address_id=_default_return_address(request),
        )
    except AppError as err:
        match = _reread(request, opened_by)
        return _refused(err, match=match), err.status
    message = _("Shipped: order %(order_no)s, waybill number %(waybill_no)s.") % {
        "order_no": order.order_no,
        "waybill_no": order.tracking_no,
    }
    return {"outcome": "ok", "message": message, "match": _reread(request, opened_by)}, 200


def _default_return_address(request: HttpRequest) -> int | None:
    """The shop's default return address, as the order page preselects it."""
    address = shop_selectors.default_return_address(actor=request.actor)
    return address.pk if address else None


def _reread(request: HttpRequest, code: str):
    """The order as it is now, to show under the outcome (None if it cannot be found)."""
    try:
        return selectors.scan_find(actor=request.actor, code=code) if code else None
    except AppError:
        return None


def _refused(err: AppError, *, match=None) -> dict:
    """A refusal, large and red, with the order when there is one; it does not stay open
    (only a "found" result carries the hidden fields that Enter ships)."""
    return {
        "outcome": "error",
        "message": err.render_message(),
        "error_code": err.code,
        "match": match,
    }
