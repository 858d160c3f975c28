"""SF Express route push (路由推送, RoutePushService): SF posts the routes of its numbers.

The protocol (``shared/contracts/sf.md``, vendor-doc copy showdoc.com.cn/hnqiao/9157102515696868):
a JSON body ``{"Body": {"WaybillRoute": [{id, mailno, orderid, acceptTime, acceptAddress,
remark, opCode}]}}``, at most 10 routes per push; the answer ``{"return_code": "0000",
"return_msg": "成功"}`` when taken, ``1000`` when not (SF pushes it again): HTTP 200 with
``1000`` for a push that cannot be read (nothing recorded) and when the database failed
(what was recorded stays; the push again is a replay). SF's other
format (a form field ``content`` with XML) is not accepted: the push is configured as JSON.

**Authentication.** SF signs nothing and names no header (the contract notes found no push
signature), so the secret is in the URL configured at SF::

    {PUBLIC_BASE_URL}/api/v1/carrier/push/sf/?token=<the SF gateway's push secret>

The push secret is the SF ``GatewayConfig``'s ``callback_salt`` (encrypted at rest, set
with the gateway). ``token`` is compared in constant time with each SF gateway's secret;
no match, no token, or no SF gateway with a secret → HTTP 403 with the API's error object
(PERMISSION_DENIED: not ``0000``, so SF would push again), the body not even read,
nothing changed, the refusal logged (never the token). The matching gateway's
carrier bounds what the push may touch. A token in a URL ends up in the access logs of
whatever stands in front of the app: drop the query string of this path there, and
rotate the secret (a new salt, then the new URL at SF) if one leaked.

**Mapping** (``opCode`` → our tracking status; everything else is in transit):

* ``50``, ``54`` 已收取快件 → picked up (contract notes; 54 in the route sample of
  honghua-kd/website ``src/views/archive/logistics/register/logisticsRoutes.ts``);
* ``80`` 已签收, ``8080`` → delivered (contract notes; 8080 with 80 as 已签收 in a
  third-party route reader, find_string hit 44785020868);
* ``648``, ``99`` 快递退回 (returned to the sender) → failed (the same third-party reader;
  no SF document found). ``70``/``33`` are not failures in any source found (70 is
  "arrived at destination" in a third-party mapping): in transit.

**Idempotency.** SF pushes a route again until it gets ``0000`` (and may after). A route
is recorded once: under the waybill's lock, an event of the same waybill, time, status,
text and place already there means a replay and nothing is written (SF's route ``id``
names the same route, and within one push a repeated ``id`` is taken once). A route for a
number that is not this carrier's in the console, whose ``orderid`` is not the order id
we gave SF, or that the tracking rules refuse (older than 60 days…), is acknowledged and
skipped (logged): pushing it again would not change the answer.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import DatabaseError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import APIView

from carriers.gateways.sf import op_code_status
from carriers.selectors import gateway_for_push_token
from waybill_console.errors import AppError, PermissionDenied
from waybills.services.tracking import tracking_route_pushed

logger = logging.getLogger("waybills.push.sf")

MAX_ROUTES = 10
BEIJING = ZoneInfo("Asia/Shanghai")
ACCEPT_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
TAKEN = {"return_code": "0000", "return_msg": "成功"}


def refused(message: str) -> dict:
    return {"return_code": "1000", "return_msg": message}


# --- the documented shapes ----------------------------------------------------------------------


class SfWaybillRouteSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=64, help_text="SF's route id")
    mailno = serializers.CharField(max_length=40, help_text="the waybill number")
    orderid = serializers.CharField(
        max_length=64, required=False, allow_blank=True, help_text="our carrier-side order id"
    )
    acceptTime = serializers.CharField(help_text="Beijing time, yyyy-MM-dd HH:mm:ss")
    acceptAddress = serializers.CharField(required=False, allow_blank=True)
    remark = serializers.CharField(required=False, allow_blank=True)
    opCode = serializers.CharField(max_length=10)


class SfRoutePushBodySerializer(serializers.Serializer):
    WaybillRoute = SfWaybillRouteSerializer(many=True)


class SfRoutePushSerializer(serializers.Serializer):
    Body = SfRoutePushBodySerializer()


class SfPushAnswerSerializer(serializers.Serializer):
    return_code = serializers.CharField(help_text="0000 taken; 1000 not taken (SF pushes again)")
    return_msg = serializers.CharField()


# --- reading a push -----------------------------------------------------------------------------


def routes_of(data) -> list[dict] | None:
    """The push's routes, each checked; None when the body is not a push of at most
    :data:`MAX_ROUTES` readable routes (then nothing is recorded)."""
    ser = SfRoutePushSerializer(data=data)
    if not isinstance(data, dict) or not ser.is_valid():
        return None
    routes = ser.validated_data["Body"]["WaybillRoute"]
    if not routes or len(routes) > MAX_ROUTES:
        return None
    for route in routes:
        try:
            naive = datetime.strptime(route["acceptTime"].strip(), ACCEPT_TIME_FORMAT)
        except ValueError:
            return None
        route["occurred_at"] = naive.replace(tzinfo=BEIJING)
    return routes


# --- the door -----------------------------------------------------------------------------------


class SFRoutePushView(APIView):
    """SF is no user of ours: no session or token; the URL's secret is the credential."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    @extend_schema(
        request=SfRoutePushSerializer,
        responses={200: SfPushAnswerSerializer},
        parameters=[
            OpenApiParameter("token", str, required=True, description="the SF push secret")
        ],
        summary="SF Express route push (路由推送): tracking for SF's numbers",
    )
    def post(self, request):
        config = gateway_for_push_token(request.query_params.get("token", ""))
        if config is None:
            logger.warning("SF route push refused: no matching token (from %s)", _peer(request))
            raise PermissionDenied()
        try:
            routes = routes_of(request.data)
        except APIException:  # not JSON, or not UTF-8
            routes = None
        if routes is None:
            return Response(refused("报文不合法"))
        outcome: dict[str, int] = {}
        seen: set[str] = set()
        try:
            for route in routes:
                if route["id"] in seen:
                    continue
                seen.add(route["id"])
                try:
                    result = tracking_route_pushed(
                        carrier_id=config.carrier_id,
                        waybill_no=route["mailno"].strip(),
                        carrier_order_id=(route.get("orderid") or "").strip(),
                        event={
                            "occurred_at": route["occurred_at"],
                            "status": op_code_status(route["opCode"].strip()),
                            "description": route.get("remark") or "",
                            "location": route.get("acceptAddress") or "",
                        },
                    )
                except AppError as err:
                    result = f"refused {err.code}"
                outcome[result] = outcome.get(result, 0) + 1
        except DatabaseError:
            logger.exception("SF route push not recorded: database error")
            return Response(refused("系统繁忙"))  # 1000: SF pushes it again
        logger.info("SF route push taken: %s", outcome)
        return Response(TAKEN)


def _peer(request) -> str:
    return request.META.get("REMOTE_ADDR", "?")
