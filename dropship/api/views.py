"""The dropship API (``/api/v1/dropship/…``): the same services as the pages.

Merchant endpoints need a merchant shop, factory endpoints a factory shop (a merchant's
token gets 403 on ``factory-orders/``: only a factory token reads dropship orders).
"""

from __future__ import annotations

from django.http import FileResponse, HttpResponse
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from dropship import selectors, services
from dropship.api import serializers as s
from dropship.services import factory as factory_services
from dropship.services.allocation import BATCH_LIMIT
from dropship.services.identity import FACTORY, profile_for
from waybill_console.api import Pagination, paginated
from waybill_console.errors import BatchTooLarge, NotFound, ValidationError
from waybill_console.idempotency import idempotent


def _body(request) -> dict:
    if not isinstance(request.data, dict):
        raise ValidationError.for_fields(non_field_errors="A JSON object.")
    return request.data


def _valid(request, serializer_class) -> dict:
    """The body, checked against the serializer that documents it: a value of the wrong
    type is a 400 naming the field, never a service handed a number for a text."""
    ser = serializer_class(data=_body(request))
    ser.is_valid(raise_exception=True)
    return ser.validated_data


def _ctx(request) -> dict:
    return {"shop_id": request.wbc_actor.shop_id}


# --- identity and bindings ------------------------------------------------------------------


class ProfileView(APIView):
    @extend_schema(responses=s.ProfileSerializer, summary="The shop's dropship identity")
    def get(self, request):
        actor = request.wbc_actor
        return Response(s.ProfileSerializer(profile_for(actor.require_shop())).data)

    @extend_schema(
        request=s.ProfileWriteSerializer,
        responses=s.ProfileSerializer,
        summary="Choose merchant or factory (until a binding request was sent or received: "
        "DROPSHIP_IDENTITY_LOCKED); a merchant's dropship name and sender",
    )
    def post(self, request):
        profile = services.profile_update(actor=request.wbc_actor, data=_body(request))
        return Response(s.ProfileSerializer(profile).data)


class BindingListView(APIView):
    @extend_schema(responses=s.BindingSerializer(many=True), summary="This shop's bindings")
    def get(self, request):
        qs = selectors.binding_list(actor=request.wbc_actor)
        page = Pagination()
        rows = page.paginate_queryset(qs, request, view=self)
        return page.get_paginated_response(
            s.BindingSerializer(rows, many=True, context=_ctx(request)).data
        )

    @extend_schema(
        request=s.BindingRequestSerializer,
        responses={201: s.BindingSerializer},
        summary="Merchant: ask a factory to bind, by its shop number (NOT_A_FACTORY; "
        "BINDING_EXISTS while a request is pending or the factory is bound)",
    )
    def post(self, request):
        binding = services.binding_request(
            actor=request.wbc_actor, factory_shop_no=_body(request).get("factory_shop_no")
        )
        return Response(
            s.BindingSerializer(binding, context=_ctx(request)).data,
            status=status.HTTP_201_CREATED,
        )


def _binding_action(fn, summary: str):
    class View(APIView):
        @extend_schema(request=None, responses=s.BindingSerializer, summary=summary)
        def post(self, request, binding_id: int):
            binding = fn(actor=request.wbc_actor, binding_id=binding_id)
            binding = selectors.binding_get(actor=request.wbc_actor, binding_id=binding.pk)
            return Response(s.BindingSerializer(binding, context=_ctx(request)).data)

    View.__name__ = f"Binding{fn.__name__.split('_')[-1].title()}View"
    return View


BindingConfirmView = _binding_action(services.binding_confirm, "Factory: confirm a request")
BindingRejectView = _binding_action(services.binding_reject, "Factory: reject a request")
BindingUnbindView = _binding_action(
    services.binding_unbind,
    "Either side: end the binding (allocations not yet returned are cancelled)",
)


# --- merchant: allocations -------------------------------------------------------------------


class AllocationListView(APIView):
    @extend_schema(
        responses=s.AllocationSerializer(many=True),
        parameters=[OpenApiParameter("order", int, required=False)],
        summary="Merchant: its allocations (item → factory), newest first",
    )
    def get(self, request):
        raw = request.query_params.get("order")
        try:
            order_id = int(raw) if raw else None
        except ValueError:
            raise ValidationError.for_fields(order="An order id.") from None
        qs = selectors.allocation_list(actor=request.wbc_actor, order_id=order_id)
        return paginated(self, request, qs, s.AllocationSerializer)

    @extend_schema(
        request=s.AllocationRequestSerializer,
        responses=s.AllocationResultsSerializer,
        summary="Merchant: hand items (order_items) or whole orders (orders) to a bound "
        "factory, up to 500; one result per item",
    )
    @idempotent
    def post(self, request):
        data = _body(request)
        items, orders = data.get("order_items"), data.get("orders")
        for name, value in (("order_items", items), ("orders", orders)):
            if value is not None and not isinstance(value, list):
                raise ValidationError.for_fields(**{name: "A list of ids."})
        count = len(items or []) + len(orders or [])
        if count > BATCH_LIMIT:
            raise BatchTooLarge(limit=BATCH_LIMIT, detail={"count": count})
        results = services.allocation_create(
            actor=request.wbc_actor, factory=data.get("factory"), order_items=items, orders=orders
        )
        return Response({"results": results}, status=status.HTTP_200_OK)


class AllocationCancelView(APIView):
    @extend_schema(
        request=None,
        responses=s.AllocationSerializer,
        summary="Merchant: cancel an allocation (not after the factory returned a number)",
    )
    def post(self, request, allocation_id: int):
        allocation = services.allocation_cancel(
            actor=request.wbc_actor, allocation_id=allocation_id
        )
        row = selectors.allocation_list(actor=request.wbc_actor).get(pk=allocation.pk)
        return Response(s.AllocationSerializer(row).data)


# --- factory: orders ---------------------------------------------------------------------------


def _factory_body(request, fo_id: int) -> dict:
    fo = selectors.factory_order_get(actor=request.wbc_actor, factory_order_id=fo_id)
    return s.FactoryOrderSerializer(selectors.factory_view(fo)).data


class FactoryOrderListView(APIView):
    @extend_schema(
        responses=s.FactoryOrderSerializer(many=True),
        parameters=[
            OpenApiParameter("merchant", str, required=False, description="the masked merchant id"),
            OpenApiParameter("status", str, required=False, enum=["allocated", "cancelled"]),
            OpenApiParameter("returned", str, required=False, enum=["yes", "no"]),
            OpenApiParameter("after_sale", str, required=False, enum=["yes", "no"]),
            OpenApiParameter("shipped", str, required=False, enum=["yes", "no"]),
        ],
        summary="Factory: the orders merchants handed to it (masked merchant id, order "
        "number and consumer data). A merchant token gets 403.",
    )
    def get(self, request):
        filters = selectors.FactoryFilters.from_params(request.query_params)
        qs = selectors.factory_order_list(actor=request.wbc_actor, filters=filters)
        page = Pagination()
        rows = page.paginate_queryset(qs, request, view=self)
        prices = selectors.prices_for(rows)
        return page.get_paginated_response(
            s.FactoryOrderSerializer(
                [selectors.factory_view(fo, prices) for fo in rows], many=True
            ).data
        )


class FactoryOrderDetailView(APIView):
    @extend_schema(responses=s.FactoryOrderSerializer, summary="Factory: one order")
    def get(self, request, factory_order_id: int):
        return Response(_factory_body(request, factory_order_id))


class FactoryOrderWaybillView(APIView):
    @extend_schema(
        request=s.DrawSerializer,
        responses={201: s.FactoryOrderSerializer},
        summary="Factory: draw the order's number from its own e-waybill subscription (its "
        "quota is charged); ORDER_BLOCKED for after-sale / under review",
    )
    @idempotent
    def post(self, request, factory_order_id: int):
        data = _valid(request, s.DrawSerializer)
        services.factory_order_draw(
            actor=request.wbc_actor,
            factory_order_id=factory_order_id,
            subscription=data.get("subscription"),
            carrier=data.get("carrier") or "",
        )
        return Response(_factory_body(request, factory_order_id), status=status.HTTP_201_CREATED)


class FactoryOrderTrackingView(APIView):
    @extend_schema(
        request=s.ReturnSerializer,
        responses=s.FactoryOrderSerializer,
        summary="Factory: return (回传) the tracking number: the drawn one (empty body) or "
        "one from its own system (carrier + tracking_no)",
    )
    def post(self, request, factory_order_id: int):
        data = _valid(request, s.ReturnSerializer)
        services.factory_order_return(
            actor=request.wbc_actor,
            factory_order_id=factory_order_id,
            carrier=data.get("carrier") or "",
            tracking_no=data.get("tracking_no") or "",
        )
        return Response(_factory_body(request, factory_order_id))


class FactoryOrderLabelView(APIView):
    @extend_schema(
        request=s.DrawSerializer,
        responses={(200, "application/pdf"): bytes},
        summary="Factory: the order's label as PDF (drawing its number if needed); the "
        "number is returned to the merchant with it",
    )
    def post(self, request, factory_order_id: int):
        data = _valid(request, s.DrawSerializer)
        pdf, _orders = services.factory_order_print(
            actor=request.wbc_actor,
            factory_order_ids=[factory_order_id],
            fmt="pdf",
            subscription=data.get("subscription"),
            carrier=data.get("carrier") or "",
        )
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="label-{factory_order_id}.pdf"'
        return response


class FactoryOrderShipView(APIView):
    @extend_schema(
        request=s.DropshipShipSerializer,
        responses=PolymorphicProxySerializer(
            component_name="DropshipShipment",
            serializers=[s.FactoryOrderSerializer, s.MerchantShipmentSerializer],
            resource_type_field_name=None,
            help_text="The factory gets its view of the order, the merchant the shipment",
        ),
        summary="Either side ships it once (ALREADY_SHIPPED for the second); the merchant "
        "may choose a return address",
    )
    @idempotent
    def post(self, request, factory_order_id: int):
        data = _valid(request, s.DropshipShipSerializer)
        fo = services.factory_order_ship(
            actor=request.wbc_actor,
            factory_order_id=factory_order_id,
            return_address_id=data.get("return_address"),
        )
        if fo.factory_id == request.wbc_actor.shop_id:
            return Response(_factory_body(request, fo.pk))
        return Response(
            {
                "id": fo.pk,
                "order": fo.order_id,
                "carrier": fo.carrier_code,
                "tracking_no": fo.tracking_no,
                "shipped_at": fo.shipped_at,
                "shipped_by": fo.shipped_by,
            }
        )


class FactoryOrderBatchShipView(APIView):
    @extend_schema(
        request=s.DropshipBatchShipSerializer,
        responses=s.BatchShipResponseSerializer,
        operation_id="dropship_factory_orders_batch_ship",
        summary="Merchant (or factory): ship up to 500 at once; one result each",
    )
    def post(self, request):
        data = _body(request)
        ids = data.get("factory_orders")
        if isinstance(ids, list) and len(ids) > factory_services.SHIP_BATCH_LIMIT:
            raise BatchTooLarge(limit=factory_services.SHIP_BATCH_LIMIT, detail={"count": len(ids)})
        ser = s.DropshipBatchShipSerializer(data=data)  # ids are integers, or nothing is done
        ser.is_valid(raise_exception=True)
        results = services.factory_order_ship_batch(
            actor=request.wbc_actor,
            factory_order_ids=ser.validated_data["factory_orders"],
            return_address_id=ser.validated_data.get("return_address"),
        )
        return Response({"results": results})


# --- prices and statements ---------------------------------------------------------------------


def _prices_by_masked_merchant(actor, prices):
    """The factory names each price's merchant by the masked id it sees; the service
    gets the merchant's shop number (never shown, never accepted from a factory)."""
    if not isinstance(prices, list):
        return prices  # the service refuses it, naming the field
    resolved = []
    for entry in prices:
        if isinstance(entry, dict):
            merchant = selectors.merchant_for_masked_id(actor=actor, masked=entry.get("merchant"))
            entry = dict(entry, merchant=merchant.shop_no if merchant else "")  # "": refused
        resolved.append(entry)
    return resolved


class PriceView(APIView):
    @extend_schema(
        responses=s.PriceSheetSerializer,
        summary="Factory: its settlement prices, and products handed to it without one",
    )
    def get(self, request):
        selectors.price_list(actor=request.wbc_actor)  # factory only
        rows = services.price_sheet(actor=request.wbc_actor)
        return Response({"count": len(rows), "results": s.PriceSerializer(rows, many=True).data})

    @extend_schema(
        request=s.PricesWriteSerializer,
        responses=s.PriceSheetSerializer,
        summary="Factory: set prices (upsert; price null removes one); all or nothing",
    )
    def put(self, request):
        prices = _prices_by_masked_merchant(request.wbc_actor, _body(request).get("prices"))
        services.prices_set(actor=request.wbc_actor, prices=prices)
        rows = services.price_sheet(actor=request.wbc_actor)
        return Response({"count": len(rows), "results": s.PriceSerializer(rows, many=True).data})


class StatementListView(APIView):
    @extend_schema(responses=s.StatementSerializer(many=True), summary="Statements of the pair")
    def get(self, request):
        qs = selectors.statement_list(actor=request.wbc_actor)
        page = Pagination()
        rows = page.paginate_queryset(qs, request, view=self)
        return page.get_paginated_response(
            s.StatementSerializer(rows, many=True, context=_ctx(request)).data
        )

    @extend_schema(
        request=s.StatementRequestSerializer,
        responses={202: s.StatementSerializer},
        summary="Generate a statement (a job): merchant names the factory, factory the "
        "merchant; at most 3 per pair a day, 10 minutes apart (STATEMENT_LIMIT)",
    )
    def post(self, request):
        data = _body(request)
        actor = request.wbc_actor
        if actor.shop is not None and profile_for(actor.shop).identity == FACTORY:
            # a factory names the merchant by its masked id, and only that way
            merchant = selectors.merchant_for_masked_id(actor=actor, masked=data.get("merchant"))
            if merchant is None:
                raise ValidationError.for_fields(merchant=selectors.MASKED_MERCHANT_HELP)
            counterpart = merchant.shop_no
        else:
            counterpart = data.get("factory") or data.get("merchant") or ""
        statement = services.statement_start(
            actor=actor,
            counterpart=counterpart,
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            file_format=data.get("format") or "csv",
        )
        statement = selectors.statement_get(actor=request.wbc_actor, statement_id=statement.pk)
        return Response(
            s.StatementSerializer(statement, context=_ctx(request)).data,
            status=status.HTTP_202_ACCEPTED,
        )


class StatementDetailView(APIView):
    @extend_schema(responses=s.StatementSerializer, summary="One statement (generating/generated)")
    def get(self, request, statement_id: int):
        statement = selectors.statement_get(actor=request.wbc_actor, statement_id=statement_id)
        return Response(s.StatementSerializer(statement, context=_ctx(request)).data)


class StatementDownloadView(APIView):
    @extend_schema(
        responses={(200, "application/octet-stream"): bytes},
        summary="Download a generated statement (only the side that asked for it)",
    )
    def get(self, request, statement_id: int):
        job = selectors.statement_job(actor=request.wbc_actor, statement_id=statement_id)
        if job is None:
            raise NotFound()
        return FileResponse(open(job.file_path, "rb"), as_attachment=True, filename=job.file_name)
