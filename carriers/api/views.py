from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from carriers import selectors, services
from carriers.api.serializers import (
    BranchSerializer,
    CarrierSerializer,
    LedgerEntrySerializer,
    RechargeSerializer,
    RejectSerializer,
    ShareSerializer,
    SubscriptionApplySerializer,
    SubscriptionSerializer,
)
from waybill_console.api import IsBranchActor, Pagination
from waybill_console.idempotency import idempotent


class CarrierListView(APIView):
    @extend_schema(responses=CarrierSerializer(many=True), summary="The carrier catalog")
    def get(self, request):
        return Response(CarrierSerializer(selectors.carrier_list(), many=True).data)


class BranchSearchView(APIView):
    @extend_schema(
        responses=BranchSerializer(many=True),
        parameters=[
            OpenApiParameter(n, str, required=False)
            for n in ("carrier", "province", "city", "district", "q")
        ],
        summary="Branch search: by region (names or division codes), fuzzy by name or code",
    )
    def get(self, request):
        p = request.query_params
        qs = selectors.branch_search(
            carrier=p.get("carrier", ""),
            province=p.get("province", ""),
            city=p.get("city", ""),
            district=p.get("district", ""),
            q=p.get("q", ""),
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(BranchSerializer(page, many=True).data)


class SubscriptionListView(APIView):
    @extend_schema(responses=SubscriptionSerializer(many=True))
    def get(self, request):
        subs = selectors.subscription_list(actor=request.wbc_actor)
        return Response(SubscriptionSerializer(subs, many=True).data)

    @extend_schema(
        request=SubscriptionApplySerializer,
        responses={201: SubscriptionSerializer},
        summary="Apply for e-waybill service (pending review)",
    )
    @idempotent
    def post(self, request):
        ser = SubscriptionApplySerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        sub = services.subscription_apply(actor=request.wbc_actor, **ser.validated_data)
        return Response(SubscriptionSerializer(sub).data, status=status.HTTP_201_CREATED)


class SubscriptionDetailView(APIView):
    @extend_schema(responses=SubscriptionSerializer)
    def get(self, request, subscription_id: int):
        sub = selectors.subscription_get(actor=request.wbc_actor, subscription_id=subscription_id)
        return Response(SubscriptionSerializer(sub).data)


def _merchant_action(name, fn, serializer=None, summary=""):
    class View(APIView):
        @extend_schema(request=serializer, responses=SubscriptionSerializer, summary=summary)
        def post(self, request, subscription_id: int):
            sub = selectors.subscription_get(
                actor=request.wbc_actor, subscription_id=subscription_id
            )
            data = {}
            if serializer:
                ser = serializer(data=request.data)
                ser.is_valid(raise_exception=True)
                data = ser.validated_data
            sub = fn(request.wbc_actor, sub, data)
            return Response(SubscriptionSerializer(sub).data)

    View.__name__ = name
    return View


SubscriptionCancelView = _merchant_action(
    "SubscriptionCancelView", lambda a, s, d: services.subscription_cancel(actor=a, subscription=s)
)
SubscriptionSetDefaultView = _merchant_action(
    "SubscriptionSetDefaultView",
    lambda a, s, d: services.subscription_set_default(actor=a, subscription=s),
)
SubscriptionReapplyView = _merchant_action(
    "SubscriptionReapplyView",
    lambda a, s, d: services.subscription_reapply(actor=a, subscription=s),
)
SubscriptionShareView = _merchant_action(
    "SubscriptionShareView",
    lambda a, s, d: services.subscription_share(actor=a, subscription=s, shop_nos=d["shops"]),
    serializer=ShareSerializer,
    summary="Share with the owner's other shops (共享多店发货)",
)


class SubscriptionLedgerView(APIView):
    @extend_schema(responses=LedgerEntrySerializer(many=True), summary="Quota ledger entries")
    def get(self, request, subscription_id: int):
        sub = selectors.subscription_get(actor=request.wbc_actor, subscription_id=subscription_id)
        paginator = Pagination()
        page = paginator.paginate_queryset(
            selectors.ledger_list(subscription=sub), request, view=self
        )
        return paginator.get_paginated_response(LedgerEntrySerializer(page, many=True).data)


def _branch_action(name, fn, serializer=None, summary=""):
    class View(APIView):
        permission_classes = [IsBranchActor]

        @extend_schema(request=serializer, responses=SubscriptionSerializer, summary=summary)
        def post(self, request, subscription_id: int):
            sub = selectors.subscription_get_for_branch(
                actor=request.wbc_actor, subscription_id=subscription_id
            )
            data = {}
            if serializer:
                ser = serializer(data=request.data)
                ser.is_valid(raise_exception=True)
                data = ser.validated_data
            fn(request.wbc_actor, sub, data)
            sub.refresh_from_db()
            return Response(SubscriptionSerializer(sub).data)

    View.__name__ = name
    return View


CarrierApproveView = _branch_action(
    "CarrierApproveView",
    lambda a, s, d: services.subscription_approve(actor=a, subscription=s),
    summary="Branch: approve an application",
)
CarrierRejectView = _branch_action(
    "CarrierRejectView",
    lambda a, s, d: services.subscription_reject(actor=a, subscription=s, reason=d["reason"]),
    serializer=RejectSerializer,
    summary="Branch: reject an application",
)
CarrierRechargeView = _branch_action(
    "CarrierRechargeView",
    lambda a, s, d: services.subscription_recharge(actor=a, subscription=s, count=d["count"]),
    serializer=RechargeSerializer,
    summary="Branch: recharge the prepaid balance",
)
CarrierMarkExpiringView = _branch_action(
    "CarrierMarkExpiringView",
    lambda a, s, d: services.subscription_mark_expiring(actor=a, subscription=s),
    summary="Branch: tag the service as expiring (即将过期)",
)
