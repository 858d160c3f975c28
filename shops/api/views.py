from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from shops import selectors, services
from shops.api.serializers import (
    FullReceiverSerializer,
    MeSerializer,
    OrderCreateSerializer,
    OrderSerializer,
)
from waybill_console.api import Pagination
from waybill_console.idempotency import idempotent


class MeView(APIView):
    @extend_schema(responses=MeSerializer, summary="The shop and permissions of this token")
    def get(self, request):
        actor = request.wbc_actor
        return Response(
            {
                "shop_no": actor.shop.shop_no,
                "shop_name": actor.shop.name,
                "permissions": sorted(actor.permissions),
            }
        )


class OrderListView(APIView):
    @extend_schema(responses=OrderSerializer(many=True), summary="List orders (receiver masked)")
    def get(self, request):
        qs = selectors.order_list(
            actor=request.wbc_actor,
            status=request.query_params.get("status"),
            q=request.query_params.get("q"),
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
