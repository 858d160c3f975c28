"""Labels and templates: ``waybills/{no}/label/``, ``templates/`` (面单模板)."""

from __future__ import annotations

from django.http import HttpResponse
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from printing import selectors, services
from printing.api import serializers_labels as s
from printing.renderers import CONTENT_TYPES, FORMATS
from waybill_console.api import Pagination
from waybills.selectors import waybill_get

TEMPLATE_FIELDS = (
    "carrier",
    "size",
    "name",
    "custom_fields",
    "free_text",
    "watermark",
    "grayscale",
    "privacy",
    "is_default",
)


class BinaryView(APIView):
    """Answers bytes (a label, a preview) or, when refused, the usual JSON error.

    DRF reads ``?format=`` as the renderer's name; here it is the label's format, and an
    ``Accept: image/png`` or ``application/pdf`` must not be refused (406) either."""

    def perform_content_negotiation(self, request, force=False):
        renderer = JSONRenderer()
        return renderer, renderer.media_type


def _template_data(request) -> dict:
    ser = s.LabelTemplateWriteSerializer(data=request.data)
    ser.is_valid(raise_exception=True)
    return {k: v for k, v in ser.validated_data.items() if k in TEMPLATE_FIELDS}


class TemplateListView(APIView):
    @extend_schema(
        responses=s.LabelTemplateSerializer(many=True),
        parameters=[OpenApiParameter("carrier", str, required=False, description="e.g. ZTO")],
        summary="The shop's label templates (面单模板), per carrier, the default first",
    )
    def get(self, request):
        qs = selectors.template_list(actor=request.wbc_actor)
        carrier = (request.query_params.get("carrier") or "").strip().upper()
        if carrier:
            qs = qs.filter(carrier__code=carrier)
        paginator = Pagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(s.LabelTemplateSerializer(page, many=True).data)

    @extend_schema(
        request=s.LabelTemplateWriteSerializer,
        responses={201: s.LabelTemplateSerializer},
        summary="Create a template (carrier, size from the carrier's label sizes, name); "
        "without custom_fields it gets the default custom area; the carrier's first "
        "template becomes its default",
    )
    def post(self, request):
        template = services.template_create(actor=request.wbc_actor, data=_template_data(request))
        template = selectors.template_get(actor=request.wbc_actor, template_id=template.pk)
        return Response(s.LabelTemplateSerializer(template).data, status=status.HTTP_201_CREATED)


class TemplateDetailView(APIView):
    @extend_schema(responses=s.LabelTemplateSerializer, summary="One label template")
    def get(self, request, template_id: int):
        template = selectors.template_get(actor=request.wbc_actor, template_id=template_id)
        return Response(s.LabelTemplateSerializer(template).data)

    @extend_schema(
        request=s.LabelTemplateWriteSerializer,
        responses=s.LabelTemplateSerializer,
        summary="Change any field; custom_fields replaces the whole custom area (errors name "
        "custom_fields[i]); is_default: true makes it the carrier's default",
    )
    def patch(self, request, template_id: int):
        template = selectors.template_get(actor=request.wbc_actor, template_id=template_id)
        template = services.template_update(
            actor=request.wbc_actor, template=template, data=_template_data(request)
        )
        return Response(s.LabelTemplateSerializer(template).data)


class TemplatePreviewView(BinaryView):
    @extend_schema(
        parameters=[OpenApiParameter("dpi", int, enum=[203, 300], required=False)],
        responses={(200, "image/png"): OpenApiTypes.BINARY},
        summary="The template as a PNG with sample data (no consumer data), from the same "
        "renderer the printers use",
    )
    def get(self, request, template_id: int):
        template = selectors.template_get(actor=request.wbc_actor, template_id=template_id)
        dpi = s.dpi_param(request.query_params.get("dpi"))
        response = HttpResponse(
            services.template_preview(template=template, dpi=dpi), content_type="image/png"
        )
        response["Cache-Control"] = "private, no-cache"
        return response


class WaybillLabelView(BinaryView):
    @extend_schema(
        parameters=[
            OpenApiParameter("format", str, enum=list(FORMATS), required=False),
            OpenApiParameter("template", int, required=False, description="template id"),
            OpenApiParameter("dpi", int, enum=[203, 300], required=False),
            OpenApiParameter("carrier", str, required=False),
        ],
        responses={
            (200, "application/pdf"): OpenApiTypes.BINARY,
            (200, "image/png"): OpenApiTypes.BINARY,
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="ESC/POS, TSPL or ZPL bytes for the printer"
            ),
        },
        summary="The waybill's label: pdf (browser printing), png, or the escpos / tspl / zpl "
        "stream; the receiver is decrypted (audited); every format but png counts a print",
    )
    def get(self, request, waybill_no: str):
        query = s.LabelQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        waybill = waybill_get(
            actor=request.wbc_actor,
            waybill_no=waybill_no,
            carrier=request.query_params.get("carrier", ""),
        )
        fmt = params["format"]
        body, template = services.label_render(
            actor=request.wbc_actor,
            waybill=waybill,
            fmt=fmt,
            template_id=params.get("template"),
            dpi=params["dpi"],
        )
        response = HttpResponse(body, content_type=CONTENT_TYPES[fmt])
        disposition = "inline" if fmt in ("pdf", "png") else "attachment"
        response["Content-Disposition"] = f'{disposition}; filename="{waybill.waybill_no}.{fmt}"'
        response["Cache-Control"] = "no-store"  # the receiver is on it
        if template.pk:
            response["X-Label-Template"] = str(template.pk)
        return response


urlpatterns: list = [
    path("templates/", TemplateListView.as_view(), name="api-label-template-list"),
    path(
        "templates/<int:template_id>/",
        TemplateDetailView.as_view(),
        name="api-label-template-detail",
    ),
    path(
        "templates/<int:template_id>/preview/",
        TemplatePreviewView.as_view(),
        name="api-label-template-preview",
    ),
    path("waybills/<str:waybill_no>/label/", WaybillLabelView.as_view(), name="api-waybill-label"),
]
