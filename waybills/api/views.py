from django.http import FileResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from carriers.selectors import subscription_get
from shops import selectors as shop_selectors
from shops import services as shop_services
from shops.api.serializers import JobSerializer, OrderSerializer
from shops.services.order_shipping import BATCH_SHIP_LIMIT
from waybill_console import permissions as perms
from waybill_console.api import IsBranchActor, paginated
from waybill_console.errors import BatchTooLarge, NotFound, ValidationError
from waybill_console.idempotency import idempotent
from waybill_console.jobs import job_get
from waybills import selectors, services
from waybills.api import serializers as s
from waybills.services.allocation import BATCH_LIMIT


def _refuse_large_batch(request, limit: int) -> None:
    """BATCH_TOO_LARGE before validating hundreds of entries one by one."""
    orders = request.data.get("orders") if isinstance(request.data, dict) else None
    if isinstance(orders, list) and len(orders) > limit:
        raise BatchTooLarge(limit=limit, detail={"count": len(orders)})


def _waybill(request, waybill_no: str):
    """The shop's number (``?carrier=`` when two carriers issued the same one)."""
    return selectors.waybill_get(
        actor=request.wbc_actor,
        waybill_no=waybill_no,
        carrier=request.query_params.get("carrier", ""),
    )


def _order(request, order_id: int):
    return shop_selectors.order_get(actor=request.wbc_actor, order_id=order_id)


class WaybillListView(APIView):
    @extend_schema(
        responses=s.WaybillSerializer(many=True),
        parameters=[
            OpenApiParameter(n, str, required=False)
            for n in (
                "days",
                "from",
                "to",
                "carrier",
                "branch",
                "subscription",
                "status",
                "order",
                "waybill_no",
                "printed",
            )
        ],
        summary="Usage details (使用详情): the last 7 days by default, filterable",
    )
    def get(self, request):
        filters = selectors.UsageFilters.from_params(request.query_params)
        qs = selectors.waybill_list(actor=request.wbc_actor, filters=filters).select_related(
            "parent"
        )
        return paginated(self, request, qs, s.WaybillSerializer)

    @extend_schema(
        request=s.AllocateSerializer,
        responses={201: s.WaybillAllocationSerializer, 200: s.WaybillAllocationSerializer},
        summary="Allocate (取号) for one order: honours Idempotency-Key; an order that "
        "already has its number gets it back (200)",
    )
    @idempotent
    def post(self, request):
        data = s.allocate_input(request.data)
        allocation = services.waybill_allocate(
            actor=request.wbc_actor,
            order=data["order"],  # read by the service, scoped to the shop, with the subscription
            subscription=data.get("subscription"),
            carrier=data.get("carrier", ""),
            package_count=data.get("package_count", 1),
            services=data.get("services"),
            weight_grams=data.get("weight_grams"),
        )
        return Response(
            s.allocation_body(allocation),
            status=status.HTTP_201_CREATED if allocation.created else status.HTTP_200_OK,
        )


class WaybillBatchView(APIView):
    @extend_schema(
        request=s.BatchAllocateSerializer,
        responses={202: JobSerializer},
        summary="Batch allocation for up to 500 orders, as a job with progress and "
        "per-order results (GET jobs/{id}/)",
    )
    @idempotent
    def post(self, request):
        _refuse_large_batch(request, BATCH_LIMIT)
        ser = s.BatchAllocateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        job = services.waybill_batch_start(
            actor=request.wbc_actor,
            order_ids=ser.validated_data["orders"],
            subscription=ser.validated_data.get("subscription"),
            carrier=ser.validated_data.get("carrier", ""),
        )
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class WaybillBulkView(APIView):
    @extend_schema(
        request=s.BulkAllocateSerializer,
        responses={200: s.WaybillBulkResultsSerializer},
        summary=f"Allocate (取号) for up to {s.BULK_LIMIT} orders in one request: one result "
        "per order in request order (a refusal never stops the others); honours "
        "Idempotency-Key",
    )
    @idempotent
    def post(self, request):
        _refuse_large_batch(request, s.BULK_LIMIT)
        ser = s.BulkAllocateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        actor = request.wbc_actor
        # refused before any order is read, as waybill_batch_start does (the service checks
        # it again)
        actor.require(perms.WAYBILL_ALLOCATE)
        ids = list(dict.fromkeys(ser.validated_data["orders"]))
        found = {o.pk: o for o in shop_selectors.order_list(actor=actor).filter(pk__in=ids)}
        missing = [i for i in ids if i not in found]
        if missing:  # as waybills/batch/: the whole request, before anything is drawn
            raise ValidationError.for_fields(
                orders=_("Not this shop's orders: %(ids)s.")
                % {"ids": ", ".join(map(str, missing[:10]))}
            )
        results = services.waybill_allocate_many(
            actor=actor,
            orders=[found[i] for i in ids],
            subscription=ser.validated_data.get("subscription"),
            carrier=ser.validated_data.get("carrier", ""),
        )
        return Response({"results": results})


class ScreenView(APIView):
    @extend_schema(
        request=s.ScreenSerializer,
        responses=s.ScreenResultSerializer,
        summary="Address screening only (筛单 / getOutRange): ok with the sort code, or the "
        "screening error",
    )
    def post(self, request):
        ser = s.ScreenSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        result = services.waybill_screen(
            actor=request.wbc_actor,
            subscription=ser.validated_data["subscription"],
            receiver=ser.validated_data["receiver"],
            services=ser.validated_data.get("services"),
        )
        return Response(
            {
                "ok": True,
                "sort_code": result.sort_code,
                "package_center": {
                    "code": result.package_center_code,
                    "name": result.package_center_name,
                },
                "short_address": {
                    "code": result.short_address_code,
                    "name": result.short_address_name,
                },
            }
        )


class WaybillDetailView(APIView):
    @extend_schema(responses=s.WaybillSerializer, summary="One waybill number")
    def get(self, request, waybill_no: str):
        waybill = _waybill(request, waybill_no)
        return Response(s.WaybillSerializer(waybill).data)

    @extend_schema(
        request=s.WaybillUpdateSerializer,
        responses=s.WaybillSerializer,
        summary="Update receiver, weight or items (until the parcel is picked up)",
    )
    def patch(self, request, waybill_no: str):
        ser = s.WaybillUpdateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        waybill = services.waybill_update(
            actor=request.wbc_actor,
            waybill=_waybill(request, waybill_no),
            **ser.validated_data,
        )
        return Response(s.WaybillSerializer(waybill).data)


class WaybillCancelView(APIView):
    @extend_schema(
        request=s.WaybillCancelSerializer,
        responses=s.WaybillSerializer,
        summary="Cancel (cap enforced; SF 子母件: the whole order with whole_order)",
    )
    @idempotent
    def post(self, request, waybill_no: str):
        waybill = _waybill(request, waybill_no)  # another shop's number: 404 before any 400
        ser = s.WaybillCancelSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        waybill = services.waybill_cancel(
            actor=request.wbc_actor,
            waybill=waybill,
            whole_order=ser.validated_data["whole_order"],
        )
        return Response(s.WaybillSerializer(waybill).data)


class WaybillPackagesView(APIView):
    @extend_schema(
        request=s.AppendSerializer,
        responses={201: s.WaybillPackagesSerializer},
        summary="Append sub numbers (子母件) to the order of this parent number",
    )
    @idempotent
    def post(self, request, waybill_no: str):
        parent = _waybill(request, waybill_no)  # another shop's number: 404 before any 400
        ser = s.AppendSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        rows = services.waybill_append_packages(
            actor=request.wbc_actor, order=parent.order, count=ser.validated_data["count"]
        )
        return Response(
            {"packages": [{"package_no": w.package_no, "waybill_no": w.waybill_no} for w in rows]},
            status=status.HTTP_201_CREATED,
        )


class UsageDailyView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("subscription", int, required=True),
            OpenApiParameter("days", int, required=False),
        ],
        responses=s.UsageDailySerializer,
        summary="Per day: numbers allocated, cancelled and recycled for one subscription",
    )
    def get(self, request):
        try:
            sub_id = int(request.query_params.get("subscription", ""))
            days = int(request.query_params.get("days", "7"))
        except ValueError:
            raise ValidationError.for_fields(subscription="A subscription id.") from None
        if not 1 <= days <= 90:
            raise ValidationError.for_fields(days="From 1 to 90.")
        sub = subscription_get(actor=request.wbc_actor, subscription_id=sub_id)
        rows = selectors.usage_daily(actor=request.wbc_actor, subscription=sub, days=days)
        return Response({"subscription": sub.pk, "days": rows})


class ExceptionListView(APIView):
    @extend_schema(
        responses=s.ExceptionSerializer(many=True),
        parameters=[OpenApiParameter("all", bool, required=False)],
        summary="Allocation exceptions (面单异常): open ones, or all with ?all=1",
    )
    def get(self, request):
        open_only = request.query_params.get("all") not in ("1", "true", "yes")
        qs = selectors.exception_list(actor=request.wbc_actor, open_only=open_only)
        return paginated(self, request, qs, s.ExceptionSerializer)


class ExceptionRetryView(APIView):
    @extend_schema(
        request=None,
        responses=s.ExceptionRetryResultSerializer,
        summary="Retry one failed allocation",
    )
    def post(self, request, exception_id: int):
        row = selectors.exception_get(actor=request.wbc_actor, exception_id=exception_id)
        return Response(services.exception_retry(actor=request.wbc_actor, exception=row))


class ExceptionRetryAllView(APIView):
    @extend_schema(
        request=None,
        responses=s.ExceptionRetryResultsSerializer,
        summary="Retry every open exception",
    )
    def post(self, request):
        return Response({"results": services.exception_retry_all(actor=request.wbc_actor)})


class ViolationListView(APIView):
    @extend_schema(
        responses=s.ViolationSerializer(many=True),
        parameters=[OpenApiParameter(n, str, required=False) for n in ("from", "to", "carrier")],
        summary="Violations (违规记录): recycled numbers that later showed tracking",
    )
    def get(self, request):
        filters = selectors.UsageFilters.from_params(request.query_params)
        qs = selectors.violation_list(actor=request.wbc_actor, filters=filters)
        return paginated(self, request, qs, s.ViolationSerializer)


class TrackingEventView(APIView):
    permission_classes = [IsBranchActor]

    @extend_schema(
        request=s.TrackingEventSerializer,
        responses={201: s.TrackingEventRecordedSerializer},
        summary="Carrier branch: a tracking event for one of its numbers",
    )
    def post(self, request):
        ser = s.TrackingEventSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        event = services.tracking_record(actor=request.wbc_actor, **ser.validated_data)
        return Response(
            {"id": event.pk, "waybill_no": event.waybill.waybill_no, "status": event.status},
            status=status.HTTP_201_CREATED,
        )


class OrderShipView(APIView):
    @extend_schema(
        request=s.ShipSerializer,
        responses=OrderSerializer,
        summary="Ship with a platform waybill (waybill_no) or, where allowed, carrier + "
        "hand-typed tracking_no",
    )
    @idempotent
    def post(self, request, order_id: int):
        ser = s.ShipSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        order = _order(request, order_id)
        if data.get("waybill_no"):
            order = services.waybill_ship(
                actor=request.wbc_actor,
                order=order,
                waybill_no=data["waybill_no"],
                return_address_id=data.get("return_address"),
            )
        else:
            order = shop_services.order_ship_by_hand(
                actor=request.wbc_actor,
                order=order,
                carrier_code=data.get("carrier", ""),
                tracking_no=data.get("tracking_no", ""),
                return_address_id=data.get("return_address"),
            )
        return Response(OrderSerializer(_order(request, order.pk)).data)


class OrderBatchShipView(APIView):
    @extend_schema(
        request=s.BatchShipSerializer,
        responses={200: s.OrderBatchShipResponseSerializer},
        summary="Ship up to 500 orders (each with its platform waybill, or by hand); one "
        "result per order",
    )
    @idempotent
    def post(self, request):
        _refuse_large_batch(request, BATCH_SHIP_LIMIT)
        ser = s.BatchShipSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        entries = ser.validated_data["orders"]
        by_hand = [e for e in entries if e.get("tracking_no") and not e.get("waybill_no")]
        if by_hand and len(by_hand) != len(entries):
            raise ValidationError.for_fields(
                orders="Ship a batch either all with platform waybills or all by hand."
            )
        if by_hand:
            results = shop_services.order_ship_batch_by_hand(
                actor=request.wbc_actor,
                shipments=entries,
                return_address_id=ser.validated_data.get("return_address"),
            )
        else:
            results = services.waybill_ship_batch(
                actor=request.wbc_actor,
                shipments=entries,
                return_address_id=ser.validated_data.get("return_address"),
            )
        return Response({"results": results})


def _reconciliation(request, job_id: int):
    job = job_get(actor=request.wbc_actor, job_id=job_id)
    if job.kind != "reconciliation":
        raise NotFound()
    return job


class ReconciliationListView(APIView):
    @extend_schema(
        request=s.ReconciliationSerializer,
        responses={202: s.ReconciliationStatusSerializer},
        summary="Generate a reconciliation statement (电子对账单) for the conditions "
        "(the usage-details filters) as CSV or XLSX",
    )
    @idempotent
    def post(self, request):
        ser = s.ReconciliationSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        job = services.reconciliation_start(
            actor=request.wbc_actor,
            params=ser.validated_data["conditions"],
            file_format=ser.validated_data["format"],
        )
        return Response(s.ReconciliationStatusSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=s.ReconciliationStatusSerializer(many=True))
    def get(self, request):
        qs = selectors.reconciliation_list(actor=request.wbc_actor)
        return paginated(self, request, qs, s.ReconciliationStatusSerializer)


class ReconciliationDetailView(APIView):
    @extend_schema(
        responses=s.ReconciliationStatusSerializer,
        summary="A statement: generating → generated",
    )
    def get(self, request, job_id: int):
        return Response(s.ReconciliationStatusSerializer(_reconciliation(request, job_id)).data)


class ReconciliationDownloadView(APIView):
    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, job_id: int):
        job = _reconciliation(request, job_id)
        if not job.file_path:
            raise ValidationError.for_fields(reconciliation="The statement is still generating.")
        return FileResponse(open(job.file_path, "rb"), as_attachment=True, filename=job.file_name)
