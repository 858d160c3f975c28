"""消息通知: the bell's list (all or unread), opening one (marks it read, then goes to what
it tells of) and 全部标为已读. Console and factory portal alike."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from events import selectors_notifications as selectors
from events.services import notifications as services
from shops.views import shop_required
from waybill_console.errors import NotFound

PAGE_SIZE = 20


@require_GET
@shop_required
def notification_list(request: HttpRequest) -> HttpResponse:
    actor = request.actor
    unread = request.GET.get("filter") == "unread"
    page = Paginator(selectors.notification_list(actor, unread=unread), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    for notification in page.object_list:
        notification.text = services.render(notification)
        notification.local_link = _local(notification.link)
    return render(
        request,
        "console/events/notification_list.html",
        {"page": page, "unread": unread},
    )


@require_POST
@shop_required
def notification_open(request: HttpRequest) -> HttpResponse:
    """Mark one read and go to its object (a path of this site only; else back to the
    list)."""
    try:
        notification_id = int(request.POST.get("id", ""))
    except ValueError:
        raise NotFound() from None
    notification = selectors.notification_get(request.actor, notification_id)
    services.notification_mark_read(actor=request.actor, ids=[notification.pk])
    return redirect(_local(notification.link) or reverse("console:notification_list"))


@require_POST
@shop_required
def notification_read_all(request: HttpRequest) -> HttpResponse:
    services.notification_mark_all_read(actor=request.actor)
    back = reverse("console:notification_list")
    if request.POST.get("filter") == "unread":
        back += "?filter=unread"
    return redirect(back)


def _local(link: str) -> str:
    """The link when it is a path on this site ("/console/…"), else ""."""
    if (
        link
        and link.startswith("/")
        and not link.startswith(("//", "/\\"))
        and url_has_allowed_host_and_scheme(link, allowed_hosts=None)
    ):
        return link
    return ""
