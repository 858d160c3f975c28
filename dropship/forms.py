"""Input parsing shared by the dropship pages (both doors): ids from checkboxes, the side a
page belongs to, and how a refusal reads in a page message."""

from __future__ import annotations

from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from shops.views import shop_required
from waybill_console.errors import AppError, ValidationError
from waybills.services.jobs import RECONCILIATION_STATUS

PAGE_SIZE = 50

#: a statement's state, read from its job (the reconciliation page's wording)
STATEMENT_STATUS = RECONCILIATION_STATUS


def int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def ids(request: HttpRequest, name: str) -> list[int]:
    """The ticked checkboxes called ``name`` (order of appearance, no repeats)."""
    values = (int_or_none(v) for v in request.POST.getlist(name))
    return list(dict.fromkeys(v for v in values if v))


def error_text(err: AppError) -> str:
    """The message, followed by the fields a ValidationError names."""
    text = err.render_message()
    if isinstance(err, ValidationError) and err.detail:
        parts = []
        for field, problems in err.detail.items():
            if isinstance(problems, list | tuple):
                problems = "; ".join(str(p) for p in problems)
            parts.append(f"{field}: {problems}")
        return f"{text} ({', '.join(parts)})"
    return text


def result_error_text(result: dict) -> str:
    error = result.get("error") or {}
    message = error.get("message", "")
    detail = error.get("detail") or {}
    if error.get("code") == "VALIDATION_ERROR" and detail:
        parts = [
            f"{k}: {'; '.join(map(str, v)) if isinstance(v, list | tuple) else v}"
            for k, v in detail.items()
        ]
        return f"{message} ({', '.join(parts)})"
    return message


def next_url(request: HttpRequest, default: str) -> str:
    """Where to go back to after a POST: the page's own ``next``, if it is ours."""
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def side_page(*, factory: bool):
    """A dropship page of one side: a factory opening a merchant page goes to its portal,
    a merchant opening a factory page goes to its 代发管理 page."""

    def decorate(view):
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.actor.shop.is_factory != factory:
                return redirect("factory:home" if not factory else "console:dropship_home")
            return view(request, *args, **kwargs)

        return shop_required(wrapper)

    return decorate


merchant_page = side_page(factory=False)
factory_page = side_page(factory=True)


def date_range_default():
    """This month so far, for the statement form."""
    from django.utils import timezone

    today = timezone.localdate()
    return today.replace(day=1), today


def statement_rows(statements, shop, *, download: str) -> list:
    """Each statement with its status and whether this shop may download it (only what it
    asked for: the other side's copy is not the same file). ``download``: the URL name."""
    from django.urls import reverse

    from waybill_console.crypto import mask_code

    out = []
    for s in statements:
        s.download_url = reverse(download, args=[s.pk])
        profile = getattr(s.merchant, "dropship_profile", None)
        name = (profile.display_name if profile else "") or ""
        s.merchant_label = f"{name} ({mask_code(s.merchant.shop_no)})".strip()
        job = s.job
        s.state = STATEMENT_STATUS.get(job.status, "generating") if job else "generating"
        s.downloadable = bool(
            job and job.shop_id == shop.pk and s.state == "generated" and job.file_path
        )
        s.mine = s.requested_by_id == shop.pk
        out.append(s)
    return out


def not_ready() -> AppError:
    return ValidationError(_("The file is not ready yet."))


def ship_results_message(request: HttpRequest, results: list[dict]) -> None:
    """One summary message for a batch ship, then one per refused order."""
    from django.contrib import messages

    failed = [r for r in results if not r["ok"]]
    (messages.success if not failed else messages.warning)(
        request,
        _("%(ok)s shipped, %(failed)s refused.")
        % {"ok": len(results) - len(failed), "failed": len(failed)},
    )
    for r in failed:
        messages.error(request, f"#{r['factory_order']}: {result_error_text(r)}")


def statement_download_response(request: HttpRequest, statement_id: int):
    """The statement's file for the shop that asked for it (pages of both sides)."""
    from django.http import FileResponse

    from dropship import selectors
    from waybill_console.errors import page_error

    job = selectors.statement_job(actor=request.actor, statement_id=statement_id)
    if job is None:
        return page_error(request, not_ready())
    return FileResponse(open(job.file_path, "rb"), as_attachment=True, filename=job.file_name)
