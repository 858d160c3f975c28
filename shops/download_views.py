"""下载中心: the shop's past exports and statements, to find and download them again."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from shops import selectors
from shops.views import shop_required
from waybill_console.jobs import download_kinds, job_download_list, job_file_size

PAGE_SIZE = 20


@shop_required
def download_list(request: HttpRequest) -> HttpResponse:
    """Every export and statement job of the shop the actor may see (the export permission,
    and each kind's own), newest first, by kind; a file is offered while it is kept."""
    actor = request.actor
    kind = request.GET.get("kind", "")
    page = Paginator(job_download_list(actor=actor, kind=kind), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    kinds = download_kinds(actor=actor)
    names = selectors.member_names(actor=actor)
    rows = []
    for job in page.object_list:
        rows.append(
            {
                "job": job,
                # a member by the name the shop knows; "" for an API token's job
                "by": (names.get(job.created_by_id) or job.created_by.get_username())
                if job.created_by_id
                else "",
                "size": job_file_size(job) if job.status == job.Status.SUCCEEDED else None,
            }
        )
    context = {"page": page, "rows": rows, "kinds": kinds, "kind": kind}
    return render(request, "console/shops/downloads.html", context)
