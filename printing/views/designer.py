"""Pages: label templates (面单模板) per carrier and the label designer.

The designer shows the label's preview PNG (the same raster the printers get, with sample
data) and over it the custom area (自定义区), where ``static/js/designer.js`` lets the
merchant move and resize each field with the mouse (snapped to 0.5 mm) and set its font
size. Save posts the whole custom area to :func:`designer_save`, which calls
``template_update``; a refusal names the field (``custom_fields[2]``) and the page shows
it next to that field. While editing, the preview is drawn from the unsaved draft
(:func:`designer_preview` with ``?fields=``); nothing is stored until Save.
"""

from __future__ import annotations

import json
import math
import re

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext
from django.views.decorators.http import require_GET, require_POST

from carriers.models import Carrier
from carriers.selectors import carrier_list, subscription_list
from printing import layout as L
from printing import selectors, services
from printing.api.serializers_labels import LabelTemplateSerializer, dpi_param
from printing.field_labels import LABELS as FORM_FIELD_LABELS
from printing.models import LabelSize, LabelTemplate
from shops.views import shop_required
from waybill_console import parsers
from waybill_console.errors import AppError, ValidationError

#: screen pixels per millimetre on the designer's stage: at most 4, less for a tall label
#: so that the whole label fits on the screen (in steps of 0.5)
MAX_SCALE, STAGE_HEIGHT = 4.0, 560
#: what the merchant calls each custom field
FIELD_LABELS = {
    "product_name": gettext_lazy("Product name"),
    "spec": gettext_lazy("Spec"),
    "quantity": gettext_lazy("Quantity"),
    "remark": gettext_lazy("Remark"),
    "order_no": gettext_lazy("Order number"),
    "shop_name": gettext_lazy("Shop name"),
    "free_text": gettext_lazy("Free text"),
    "qr_code": gettext_lazy("QR code"),
}
SIZE_LABELS = dict(LabelSize.choices)


def _wants_json(request: HttpRequest) -> bool:
    return request.headers.get("Accept", "").startswith("application/json")


#: the services' messages with numbers in them, worded for translation (the fixed ones
#: are looked up as they are)
MESSAGES = (
    (
        re.compile(r"Keep the field inside the custom area \((?P<box>[^)]+) mm\)\."),
        gettext_lazy("Keep the field inside the custom area (%(box)s mm)."),
    ),
    (
        re.compile(r"font_size from (?P<low>\d+) to (?P<high>\d+) pt\."),
        gettext_lazy("Font size from %(low)s to %(high)s pt."),
    ),
    (re.compile(r"key: one of .*"), gettext_lazy("Not a field of the custom area.")),
    (
        re.compile(r"At most (?P<n>\d+) characters\."),
        gettext_lazy("At most %(n)s characters."),
    ),
    (
        re.compile(r"(?P<carrier>\S+) prints (?P<sizes>[\dx, ]+)\."),
        gettext_lazy("%(carrier)s prints %(sizes)s."),
    ),
)


def _message(text: str) -> str:
    for pattern, message in MESSAGES:
        match = pattern.fullmatch(text)
        if match:
            return str(message) % match.groupdict()
    return _(text)


def _field_errors(err: AppError) -> dict[str, list[str]]:
    """A refusal's detail, per field, in the page's language where a translation exists."""
    out = {}
    for field, problems in (err.detail or {}).items():
        if not isinstance(problems, list | tuple):
            problems = [problems]
        out[field] = [_message(str(p)) for p in problems]
    return out


def _error_body(err: AppError) -> dict:
    return {**err.as_dict(), "detail": _field_errors(err)}


def _sizes(carrier: Carrier | None) -> list[tuple[str, str]]:
    codes = (carrier.label_sizes if carrier else None) or list(L.SIZES)
    return [(code, SIZE_LABELS.get(code, code)) for code in codes if code in L.SIZES]


def _size_choice(sizes: list[tuple[str, str]], wanted: str) -> str:
    """The size to preselect: the one asked for if the carrier prints it, else 100×150."""
    codes = [code for code, _label in sizes]
    for code in (wanted, "100x150"):
        if code in codes:
            return code
    return codes[0] if codes else ""


# --- the list (面单模板) ----------------------------------------------------------------------


def _list_context(request: HttpRequest, values: dict | None = None) -> dict:
    templates = list(selectors.template_list(actor=request.actor))
    carriers = list(carrier_list())
    groups: dict[int, dict] = {}
    for t in templates:
        t.size_label = SIZE_LABELS.get(t.size, t.size)
        groups.setdefault(t.carrier_id, {"carrier": t.carrier, "templates": []})
        groups[t.carrier_id]["templates"].append(t)
    values = dict(values or {})
    if not values.get("carrier"):
        subscribed = [s.carrier.code for s in subscription_list(actor=request.actor)]
        codes = [c.code for c in carriers]
        values["carrier"] = next(
            (c for c in subscribed + ["ZTO"] if c in codes), codes[0] if codes else ""
        )
    chosen = next((c for c in carriers if c.code == values["carrier"].upper()), None)
    sizes = _sizes(chosen)
    values["size"] = _size_choice(sizes, values.get("size", ""))
    return {
        "groups": list(groups.values()),
        "carriers": carriers,
        "sizes": sizes,
        "values": values,
        "field_errors": {},
        "error": None,
    }


@shop_required
@require_GET
def template_list(request: HttpRequest) -> HttpResponse:
    return render(request, "console/printing/templates.html", _list_context(request))


@shop_required
@require_GET
def template_sizes(request: HttpRequest) -> HttpResponse:
    """htmx: the size choice for the carrier chosen in the create form."""
    code = (request.GET.get("carrier") or "").strip().upper()
    sizes = _sizes(Carrier.objects.filter(code=code).first())
    return render(
        request,
        "console/printing/_size_select.html",
        {"sizes": sizes, "values": {"size": _size_choice(sizes, request.GET.get("size", ""))}},
    )


@shop_required
@require_POST
def template_create(request: HttpRequest) -> HttpResponse:
    """新建模板: carrier, one of its sizes, a name; then straight to the designer."""
    values = {k: request.POST.get(k, "").strip() for k in ("carrier", "size", "name")}
    try:
        template = services.template_create(actor=request.actor, data=values)
    except AppError as err:
        context = _list_context(request, values)
        context.update(error=err.as_dict(), field_errors=_field_errors(err))
        return render(request, "console/printing/templates.html", context, status=err.status)
    messages.success(request, _("Template %(name)s created.") % {"name": template.name})
    return redirect("console:label_template_designer", template_id=template.pk)


@shop_required
@require_POST
def template_default(request: HttpRequest, template_id: int) -> HttpResponse:
    """设为默认: the template the carrier's labels print with unless another is chosen."""
    template = selectors.template_get(actor=request.actor, template_id=template_id)
    services.template_set_default(actor=request.actor, template=template)
    messages.success(
        request,
        _("%(name)s is now the default template for %(carrier)s.")
        % {"name": template.name, "carrier": template.carrier.name},
    )
    back = reverse("console:label_template_list")
    if request.POST.get("next") == "designer":
        back = reverse("console:label_template_designer", args=[template.pk])
    return redirect(back)


# --- the designer ---------------------------------------------------------------------------


def stage_scale(size: str) -> float:
    """Screen pixels per millimetre for a label size."""
    height = L.SIZES[size][1]
    return min(MAX_SCALE, math.floor(STAGE_HEIGHT / height * 2) / 2)


def _px(mm: float, scale: float) -> str:
    """Millimetres as CSS pixels on the stage, as text (no locale formatting)."""
    return f"{round(mm * scale, 2):g}"


def _preview_url(template: LabelTemplate) -> str:
    version = int(template.updated_at.timestamp() * 1000) if template.updated_at else 0
    return reverse("console:label_template_preview", args=[template.pk]) + f"?v={version}"


def _designer_context(
    request: HttpRequest,
    template: LabelTemplate,
    *,
    draft: dict | None = None,
    error: AppError | None = None,
) -> dict:
    layout = services.template_layout(template)
    bx, by, bw, bh = layout.custom_box
    scale = stage_scale(template.size)
    draft = draft or {}
    fields = draft.get("custom_fields", template.custom_fields)
    strings = {
        "labels": {k: str(v) for k, v in FIELD_LABELS.items()},
        # what a refusal's fields are called on this page (never their keys)
        "field_names": {k: str(v) for k, v in FORM_FIELD_LABELS.items()},
        "label_separator": pgettext("label separator", ": "),
        "saved": _("Saved."),
        "saving": _("Saving…"),
        "dirty": _("Unsaved changes"),
        "previewing": _("Updating the preview…"),
        "preview_failed": _("The preview could not be drawn."),
        "failed": _("Not saved."),
        "remove": _("Remove"),
        "bold": _("Bold"),
    }
    return {
        "template": template,
        "size_label": SIZE_LABELS.get(template.size, template.size),
        "scale": scale,
        "stage": {"w": _px(layout.width, scale), "h": _px(layout.height, scale)},
        "box": {"x": bx, "y": by, "w": bw, "h": bh},
        "box_px": {k: _px(v, scale) for k, v in zip("xywh", layout.custom_box, strict=True)},
        "fields_json": json.dumps(fields, ensure_ascii=False),
        "designer": {
            "fields": fields,
            "box": {"w": round(bw, 2), "h": round(bh, 2)},
            "scale": scale,
            "snap": 0.5,
            "min_font": L.MIN_FONT,
            "max_font": L.MAX_FONT,
            "catalogue": [{"key": k, "label": str(FIELD_LABELS[k])} for k in L.CUSTOM_FIELDS],
            "strings": strings,
            "errors": _field_errors(error) if error else {},
        },
        "values": {
            "free_text": draft.get("free_text", template.free_text),
            "watermark": draft.get("watermark", template.watermark),
            "grayscale": draft.get("grayscale", template.grayscale),
            "privacy": draft.get("privacy", template.privacy),
        },
        "field_errors": _field_errors(error) if error else {},
        "error": error.as_dict() if error else None,
        "preview_url": _preview_url(template),
        "preview_base": reverse("console:label_template_preview", args=[template.pk]),
        "catalogue": [(k, FIELD_LABELS[k]) for k in L.CUSTOM_FIELDS],
    }


@shop_required
@require_GET
def designer(request: HttpRequest, template_id: int) -> HttpResponse:
    template = selectors.template_get(actor=request.actor, template_id=template_id)
    return render(request, "console/printing/designer.html", _designer_context(request, template))


def _posted(request: HttpRequest) -> dict:
    """The designer's form: the whole custom area as JSON, and the other settings."""
    data: dict = {}
    if "custom_fields" in request.POST:
        try:
            data["custom_fields"] = parsers.loads(request.POST["custom_fields"] or "[]")
        except ValueError:
            raise ValidationError.for_fields(custom_fields=_("A JSON list of fields.")) from None
    for key in ("name", "free_text", "watermark"):
        if key in request.POST:
            data[key] = request.POST[key]
    for flag in ("grayscale", "privacy"):  # a hidden "0" precedes each checkbox
        if flag in request.POST:
            data[flag] = request.POST.getlist(flag)[-1] in ("1", "on", "true")
    return data


@shop_required
@require_POST
def designer_save(request: HttpRequest, template_id: int) -> HttpResponse:
    """保存: ``template_update`` with the posted custom area; JSON for the designer's
    script, a redirect (or the page with its errors) for a plain form."""
    template = selectors.template_get(actor=request.actor, template_id=template_id)
    draft: dict = {}
    try:
        draft = _posted(request)
        template = services.template_update(actor=request.actor, template=template, data=draft)
    except AppError as err:
        if _wants_json(request):
            return JsonResponse(_error_body(err), status=err.status)
        template.refresh_from_db()
        if not isinstance(draft.get("custom_fields", []), list):
            draft.pop("custom_fields")
        context = _designer_context(request, template, draft=draft, error=err)
        return render(request, "console/printing/designer.html", context, status=err.status)
    if _wants_json(request):
        return JsonResponse(
            {
                "ok": True,
                "message": _("Saved."),
                "template": LabelTemplateSerializer(template).data,
                "preview_url": _preview_url(template),
            }
        )
    messages.success(request, _("Saved."))
    return redirect("console:label_template_designer", template_id=template.pk)


@shop_required
@require_GET
def designer_preview(request: HttpRequest, template_id: int) -> HttpResponse:
    """The preview PNG (sample data). With ``?fields=`` (and ``free_text``, ``watermark``,
    ``privacy=0|1``) it draws the designer's unsaved draft instead; nothing is stored."""
    template = selectors.template_get(actor=request.actor, template_id=template_id)
    try:
        dpi = dpi_param(request.GET.get("dpi"))
        if "fields" in request.GET:
            try:
                raw = parsers.loads(request.GET["fields"])
            except ValueError:
                raise ValidationError.for_fields(
                    custom_fields=_("A JSON list of fields.")
                ) from None
            template = LabelTemplate(
                shop=template.shop,
                carrier=template.carrier,
                size=template.size,
                name=template.name,
                custom_fields=L.clean_custom_fields(template.size, raw),
                free_text=request.GET.get("free_text", template.free_text).strip()[:100],
                watermark=request.GET.get("watermark", template.watermark).strip()[:20],
                privacy=request.GET["privacy"] in ("1", "on", "true")
                if "privacy" in request.GET
                else template.privacy,
            )
    except AppError as err:
        return JsonResponse(_error_body(err), status=err.status)
    response = HttpResponse(
        services.template_preview(template=template, dpi=dpi), content_type="image/png"
    )
    response["Cache-Control"] = "private, max-age=3600" if "v" in request.GET else "no-cache"
    return response


urlpatterns: list = [
    path("label-templates/", template_list, name="label_template_list"),
    path("label-templates/new/", template_create, name="label_template_create"),
    path("label-templates/sizes/", template_sizes, name="label_template_sizes"),
    path("label-templates/<int:template_id>/", designer, name="label_template_designer"),
    path("label-templates/<int:template_id>/save/", designer_save, name="label_template_save"),
    path(
        "label-templates/<int:template_id>/default/",
        template_default,
        name="label_template_default",
    ),
    path(
        "label-templates/<int:template_id>/preview.png",
        designer_preview,
        name="label_template_preview",
    ),
]
