from django.http import FileResponse
from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from shops import selectors, services
from shops.api.serializers import (
    AddressSerializer,
    ChangeAddressSerializer,
    ExportSerializer,
    FullReceiverSerializer,
    JobSerializer,
    MeSerializer,
    OrderCreateSerializer,
    OrderImportResultSerializer,
    OrderImportSerializer,
    OrderSerializer,
    PaySerializer,
    ReasonSerializer,
    RerouteSerializer,
)
from shops.services import exports, imports
from waybill_console.api import Pagination
from waybill_console.errors import ValidationError
from waybill_console.idempotency import idempotent
from waybill_console.jobs import job_get


class MeView(APIView):
    @extend_schema(responses=MeSerializer, summary="The shop and permissions of this token")
    def get(self, request):
        actor = request.wbc_actor
        return Response(
            {
                "shop_no": actor.shop.shop_no,
                "shop_name": actor.shop.name,
                "shop_type": actor.shop.shop_type,
                "shop_type_label": actor.shop.get_shop_type_display(),
                "permissions": sorted(actor.permissions),
            }
        )


class OrderListView(APIView):
    @extend_schema(
        responses=OrderSerializer(many=True),
        parameters=[
            OpenApiParameter("status", str, required=False),
            OpenApiParameter("date_from", OpenApiTypes.DATE, required=False),
            OpenApiParameter("date_to", OpenApiTypes.DATE, required=False),
            OpenApiParameter("at_risk", bool, required=False),
            OpenApiParameter("carrier", str, required=False),
            OpenApiParameter("has_waybill", str, required=False, enum=["yes", "no"]),
            OpenApiParameter("is_dropship", str, required=False, enum=["yes", "no"]),
            OpenApiParameter("after_sale", str, required=False, enum=["yes", "no"]),
            OpenApiParameter(
                "print_status",
                str,
                required=False,
                enum=selectors.PrintStatus.values,
                description="the label of the order's number: never printed (未打印), printed "
                "once (已打印) or more than once (重打); orders without a number match none",
            ),
            OpenApiParameter(
                "q",
                str,
                required=False,
                description="order number or its beginning, waybill number, or full phone",
            ),
        ],
        summary="List orders (receiver masked); filters: status, date_from, date_to, "
        "at_risk, carrier, has_waybill, is_dropship, after_sale, print_status, q",
    )
    def get(self, request):
        filters = selectors.OrderFilters.from_params(request.query_params)
        qs = selectors.order_list(actor=request.wbc_actor, filters=filters).prefetch_related(
            "items"
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(OrderSerializer(page, many=True).data)

    @extend_schema(
        request=OrderCreateSerializer, responses={201: OrderSerializer}, summary="Create an order"
    )
    @idempotent
    def post(self, request):
        ser = OrderCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        order = services.order_create(actor=request.wbc_actor, **ser.validated_data)
        order = selectors.order_get(actor=request.wbc_actor, order_id=order.pk)
        return Response(OrderSerializer(order).data, status=status.HTTP_201_CREATED)


class OrderDetailView(APIView):
    @extend_schema(responses=OrderSerializer, summary="One order (receiver masked)")
    def get(self, request, order_id: int):
        order = selectors.order_get(actor=request.wbc_actor, order_id=order_id)
        return Response(OrderSerializer(order).data)


class OrderRevealView(APIView):
    @extend_schema(
        request=None,
        responses=FullReceiverSerializer,
        summary="Show the full receiver (needs consumer.view; audited)",
    )
    def post(self, request, order_id: int):
        order = selectors.order_get(actor=request.wbc_actor, order_id=order_id)
        return Response(services.order_reveal_receiver(actor=request.wbc_actor, order=order))


def _order(request, order_id):
    return selectors.order_get(actor=request.wbc_actor, order_id=order_id)


def _answer(request, order):
    return Response(OrderSerializer(_order(request, order.pk)).data)


def _event_view(name, fn, serializer=ReasonSerializer, summary=""):
    class View(APIView):
        @extend_schema(request=serializer, responses=OrderSerializer, summary=summary)
        def post(self, request, order_id: int):
            order = _order(request, order_id)  # another shop's order: 404 before any 400
            ser = serializer(data=request.data)
            ser.is_valid(raise_exception=True)
            order = fn(request.wbc_actor, order, ser.validated_data)
            return _answer(request, order)

    View.__name__ = name
    return View


OrderAfterSaleView = _event_view(
    "OrderAfterSaleView",
    lambda a, o, d: services.order_start_after_sale(actor=a, order=o, reason=d["reason"]),
    summary="An after-sale case opens (blocks printing and dropship allocation)",
)
OrderCloseAfterSaleView = _event_view(
    "OrderCloseAfterSaleView",
    lambda a, o, d: services.order_close_after_sale(actor=a, order=o),
    summary="The after-sale case closes",
)
OrderChangeAddressView = _event_view(
    "OrderChangeAddressView",
    lambda a, o, d: services.order_change_address(actor=a, order=o, receiver=d["receiver"]),
    serializer=ChangeAddressSerializer,
    summary="The buyer changed the address",
)
OrderCancelRequestView = _event_view(
    "OrderCancelRequestView",
    lambda a, o, d: services.order_request_cancel(actor=a, order=o, reason=d["reason"]),
    summary="The buyer asks to cancel (answer within 48 h or the order is cancelled)",
)
OrderCancelView = _event_view(
    "OrderCancelView",
    lambda a, o, d: services.order_cancel_by_seller(actor=a, order=o, reason=d["reason"]),
    summary="The seller cancels (the items' products are delisted: stock to zero)",
)

OrderPayView = _event_view(
    "OrderPayView",
    lambda a, o, d: services.order_pay(actor=a, order=o, paid_at=d["paid_at"]),
    serializer=PaySerializer,
    summary="An unpaid order is paid (deadlines count from paid_at; no 48 h auto-cancel)",
)
OrderRerouteView = _event_view(
    "OrderRerouteView",
    lambda a, o, d: services.order_reroute(
        actor=a, order=o, receiver=d["receiver"], postcode=d["postcode"]
    ),
    serializer=RerouteSerializer,
    summary="A failed delivery goes to a new receiver (once, within 12 days of the failure)",
)


class AddressListView(APIView):
    @extend_schema(responses=AddressSerializer(many=True), summary="Shipping addresses")
    def get(self, request):
        return Response(
            AddressSerializer(selectors.address_list(actor=request.wbc_actor), many=True).data
        )

    @extend_schema(
        request=AddressSerializer,
        responses={201: AddressSerializer},
        summary="Add a shipping address (at most 100 per shop)",
    )
    def post(self, request):
        ser = AddressSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        address = services.address_create(actor=request.wbc_actor, data=ser.validated_data)
        return Response(AddressSerializer(address).data, status=status.HTTP_201_CREATED)


class AddressDetailView(APIView):
    @extend_schema(responses=AddressSerializer)
    def get(self, request, address_id: int):
        return Response(
            AddressSerializer(
                selectors.address_get(actor=request.wbc_actor, address_id=address_id)
            ).data
        )

    @extend_schema(request=AddressSerializer, responses=AddressSerializer)
    def patch(self, request, address_id: int):
        ser = AddressSerializer(data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        address = services.address_update(
            actor=request.wbc_actor, address_id=address_id, data=ser.validated_data
        )
        return Response(AddressSerializer(address).data)

    @extend_schema(responses={204: None})
    def delete(self, request, address_id: int):
        services.address_delete(actor=request.wbc_actor, address_id=address_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class OrderExportView(APIView):
    @extend_schema(
        request=ExportSerializer,
        responses={202: JobSerializer},
        summary="Export orders (masked; last 90 days; at most 15,000 rows) as a job",
    )
    def post(self, request):
        ser = ExportSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        job = exports.order_export_start(
            actor=request.wbc_actor,
            params=ser.validated_data["filters"],
            file_format=ser.validated_data["format"],
            order_ids=ser.validated_data.get("orders") or None,
        )
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class OrderImportView(APIView):
    """The import page's rules through the API: one service, the same limits and report."""

    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": OrderImportSerializer},
        responses={200: OrderImportResultSerializer, 202: JobSerializer},
        summary="Import orders from a CSV or XLSX file (all or nothing)",
        description=(
            "Multipart form with one field, `file` (.csv in UTF-8 or GB18030, or .xlsx): one "
            "line per order item, the columns of the import page's template. Limits: 10 MB, "
            "10,000 lines, 50 columns (further columns are ignored); an XLSX file unpacks "
            "to at most 40 MB, no part more than 100 times its packed size. Every line is "
            "checked first; if any is wrong nothing is imported and the answer is 400 "
            "`IMPORT_INVALID` with `detail.lines`: `line`, `field`, `label` (the file's "
            "column title) and `message` for each problem. A file of at most 64 KB is "
            "imported at once (200, the counts); a larger one is imported by a job (202): "
            "poll `GET /api/v1/jobs/{id}/`, whose `result` holds the counts or whose "
            "`error` holds the same report. Needs the `order.manage` scope."
        ),
    )
    def post(self, request):
        ser = OrderImportSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        upload = ser.validated_data["file"]
        started = imports.order_import_start(
            actor=request.wbc_actor, file_name=upload.name, upload=upload
        )
        if started.job is not None:
            return Response(JobSerializer(started.job).data, status=status.HTTP_202_ACCEPTED)
        return Response(OrderImportResultSerializer(started.result).data)


class JobDetailView(APIView):
    @extend_schema(responses=JobSerializer, summary="A background job: status and progress")
    def get(self, request, job_id: int):
        return Response(JobSerializer(job_get(actor=request.wbc_actor, job_id=job_id)).data)


class JobDownloadView(APIView):
    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, job_id: int):
        job = job_get(actor=request.wbc_actor, job_id=job_id)
        if not job.file_path:
            raise ValidationError.for_fields(job=gettext("The file is not ready yet."))
        return FileResponse(open(job.file_path, "rb"), as_attachment=True, filename=job.file_name)
