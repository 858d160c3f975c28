"""Kuaidi100 tracking push (快递信息推送): ``POST /api/v1/carrier/push/kuaidi100/``.

Kuaidi100 posts the tracks of the numbers subscribed when they were ordered (see
:mod:`carriers.gateways.kuaidi100`): a form with ``param`` (JSON: ``status``,
``lastResult{state, com, nu, data[…]}``) and ``sign = upper(md5(param + salt))``.

**Authentication is the signature** (no session, no token, no CSRF, no throttle: a refused
push costs one lookup and one md5): it is checked with the push salt of the configuration
of the carrier the push names (``lastResult.com``), and that carrier bounds what the push
may touch. A wrong or missing signature, or a carrier not connected through Kuaidi100 (or
without a salt), is refused with the API's error object, HTTP 401 NOT_AUTHENTICATED, and
nothing is changed (logged, never the param); an unreadable push is HTTP 400
VALIDATION_ERROR. Kuaidi100 reads only the success answer
``{"result": true, "returnCode": "200", "message": "成功"}``; after anything else it pushes
again (3 times, 35 minutes apart), which suits a salt being corrected.

**Recording.** Each mapped event goes through :func:`waybills.services.tracking_record`
as the waybill's branch (so pickup ships the order, and recycling and SLA clocks see it).
Kuaidi100 sends the whole track each time: an event of the same waybill, time and status
already recorded is a replay and is skipped, under the waybill's lock (two pushes at once
record it once). A number that is not this carrier's in the console is answered with
success and nothing changed (pushing it again would not change that); so is an event the
tracking rules refuse (older than 60 days, before the number was drawn …), logged.
"""

from __future__ import annotations

import logging

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from carriers.gateways import kuaidi100
from waybills.models import Waybill
from waybills.services.tracking import tracking_record_pushed

logger = logging.getLogger("waybills.push.kuaidi100")

TAKEN = {"result": True, "returnCode": "200", "message": "成功"}


def kuaidi100_push_record(push: kuaidi100.Push) -> int:
    """Record the push's new events on its waybill; the number recorded (0 for a number
    that is not the carrier's in the console, or a replay)."""
    waybill = (
        Waybill.objects.filter(carrier__code=push.carrier_code, waybill_no=push.waybill_no)
        .select_related("subscription__branch__carrier")
        .first()
    )
    if waybill is None:
        logger.info("kuaidi100 push for a number not in the console (%s)", push.carrier_code)
        return 0
    return tracking_record_pushed(
        waybill=waybill,
        events=[
            {
                "occurred_at": e.occurred_at,
                "status": e.status,
                "description": e.description,
                "location": e.location,
            }
            for e in push.events
        ],
    )


class Kuaidi100PushSerializer(serializers.Serializer):
    param = serializers.CharField(
        trim_whitespace=False, help_text="JSON: status, lastResult{state, com, nu, data[]}"
    )
    sign = serializers.CharField(help_text="upper(md5(param + salt))")


@extend_schema_serializer(component_name="Kuaidi100PushAnswer")
class Kuaidi100PushAnswerSerializer(serializers.Serializer):
    result = serializers.BooleanField()
    returnCode = serializers.CharField()  # Kuaidi100 names it
    message = serializers.CharField()


class Kuaidi100PushView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []
    parser_classes = [FormParser]  # the carrier's protocol: a form, not JSON

    @extend_schema(
        request={"application/x-www-form-urlencoded": Kuaidi100PushSerializer},
        responses={200: Kuaidi100PushAnswerSerializer},
        auth=[],
        summary="Kuaidi100 (快递100) tracking push: signed with the gateway's salt",
    )
    def post(self, request):
        form = Kuaidi100PushSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        push = kuaidi100.push_read(
            param=form.validated_data["param"], signature=form.validated_data["sign"]
        )
        kuaidi100_push_record(push)
        return Response(TAKEN)
