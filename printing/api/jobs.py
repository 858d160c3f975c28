"""Printers, print jobs, print agents, and the agent's own endpoints (``agent/…``).

The agent authenticates with ``Authorization: Agent <key>`` (its own key, not an API
token) and reaches only its two endpoints: the next job of its printers and the result
of an attempt.
"""

from __future__ import annotations

import time

from django.urls import path
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import authentication, permissions, status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.response import Response
from rest_framework.views import APIView

from printing import agents, print_jobs, printers, selectors
from printing.api import serializers_jobs as s
from printing.models import PrintAgent, PrintJob
from waybill_console.api import TokenRateThrottle, paginated
from waybill_console.errors import BatchTooLarge, NotAuthenticated, ValidationError
from waybill_console.idempotency import idempotent


def _data(request) -> dict:
    if not isinstance(request.data, dict):
        raise ValidationError.for_fields(non_field_errors="A JSON object.")
    return {k: v for k, v in request.data.items() if k in printers.PRINTER_FIELDS}


def _job(request, job_id: int):
    return selectors.print_job_get(actor=request.wbc_actor, job_id=job_id)


def _job_body(request, job_id: int) -> dict:
    return s.PrintJobSerializer(_job(request, job_id)).data


# --- printers -------------------------------------------------------------------------------


class PrinterListView(APIView):
    @extend_schema(responses=s.PrinterSerializer(many=True), summary="The shop's printers")
    def get(self, request):
        qs = selectors.printer_list(actor=request.wbc_actor)
        return paginated(self, request, qs, s.PrinterSerializer)

    @extend_schema(
        request=s.PrinterWriteSerializer,
        responses={201: s.PrinterSerializer},
        summary="Add a printer: network (raw TCP 9100), USB on the server, or a print agent's",
    )
    def post(self, request):
        printer = printers.printer_create(actor=request.wbc_actor, data=_data(request))
        return Response(s.PrinterSerializer(printer).data, status=status.HTTP_201_CREATED)


class PrinterDetailView(APIView):
    @extend_schema(responses=s.PrinterSerializer, summary="One printer")
    def get(self, request, printer_id: int):
        printer = selectors.printer_get(actor=request.wbc_actor, printer_id=printer_id)
        return Response(s.PrinterSerializer(printer).data)

    @extend_schema(
        request=s.PrinterWriteSerializer, responses=s.PrinterSerializer, summary="Change it"
    )
    def patch(self, request, printer_id: int):
        printer = selectors.printer_get(actor=request.wbc_actor, printer_id=printer_id)
        printer = printers.printer_update(
            actor=request.wbc_actor, printer=printer, data=_data(request)
        )
        return Response(s.PrinterSerializer(printer).data)

    @extend_schema(
        request=None,
        responses={204: None},
        summary="Delete it with its print history (refused while a job is in progress)",
    )
    def delete(self, request, printer_id: int):
        printer = selectors.printer_get(actor=request.wbc_actor, printer_id=printer_id)
        printers.printer_delete(actor=request.wbc_actor, printer=printer)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PrinterTestView(APIView):
    @extend_schema(
        request=s.PrinterTestSerializer,
        responses={201: s.PrintJobSerializer},
        summary="Print a test label (sample data): the job is answered at once as queued; a "
        "worker sends it to a network or USB printer, an agent's printer gets it from its "
        "agent. Poll GET print-jobs/{id}/ until it is printed or failed with the reason",
    )
    @idempotent
    def post(self, request, printer_id: int):
        printer = selectors.printer_get(actor=request.wbc_actor, printer_id=printer_id)
        ser = s.PrinterTestSerializer(data=request.data or {})
        ser.is_valid(raise_exception=True)
        job = print_jobs.printer_test(
            actor=request.wbc_actor, printer=printer, template_id=ser.validated_data.get("template")
        )
        return Response(_job_body(request, job.pk), status=status.HTTP_201_CREATED)


# --- print jobs -----------------------------------------------------------------------------


class PrintJobListView(APIView):
    @extend_schema(
        responses=s.PrintJobSummarySerializer(many=True),
        parameters=[
            OpenApiParameter("status", str, required=False, enum=PrintJob.Status.values),
            OpenApiParameter("printer", int, required=False),
        ],
        summary="The shop's print jobs, newest first",
    )
    def get(self, request):
        try:
            printer_id = int(request.query_params.get("printer") or 0) or None
        except ValueError:
            raise ValidationError.for_fields(printer="A printer id.") from None
        qs = selectors.print_job_list(
            actor=request.wbc_actor,
            status=request.query_params.get("status", ""),
            printer_id=printer_id,
        )
        return paginated(self, request, qs, s.PrintJobSummarySerializer)

    @extend_schema(
        request=s.PrintJobCreateSerializer,
        responses={201: s.PrintJobSerializer},
        summary="Print up to 50 waybills on one printer: one document per label; each "
        "attempt is recorded (GET print-jobs/{id}/)",
    )
    @idempotent
    def post(self, request):
        waybills = request.data.get("waybills") if isinstance(request.data, dict) else None
        if isinstance(waybills, list) and len(waybills) > print_jobs.JOB_LIMIT:
            raise BatchTooLarge(limit=print_jobs.JOB_LIMIT, detail={"count": len(waybills)})
        ser = s.PrintJobCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        printer = selectors.printer_get(
            actor=request.wbc_actor, printer_id=ser.validated_data["printer"]
        )
        job = print_jobs.print_job_create(
            actor=request.wbc_actor,
            printer=printer,
            waybill_nos=ser.validated_data["waybills"],
            template_id=ser.validated_data.get("template"),
        )
        return Response(_job_body(request, job.pk), status=status.HTTP_201_CREATED)


class PrintJobDetailView(APIView):
    @extend_schema(
        responses=s.PrintJobSerializer,
        summary="A print job: status, documents (confirmed, reprint) and every attempt "
        "(bytes sent, outcome, reason)",
    )
    def get(self, request, job_id: int):
        return Response(_job_body(request, job_id))


class PrintJobRetryView(APIView):
    @extend_schema(
        request=None,
        responses=s.PrintJobSerializer,
        summary="Retry a failed job: sends only the documents the printer did not confirm",
    )
    @idempotent
    def post(self, request, job_id: int):
        print_jobs.print_job_retry(actor=request.wbc_actor, job=_job(request, job_id))
        return Response(_job_body(request, job_id))


# --- print agents (managed by the shop) -----------------------------------------------------


class AgentListView(APIView):
    @extend_schema(responses=s.AgentSerializer(many=True), summary="The shop's print agents")
    def get(self, request):
        qs = selectors.agent_list(actor=request.wbc_actor)
        return paginated(self, request, qs, s.AgentSerializer)

    @extend_schema(
        request=s.AgentCreateSerializer,
        responses={201: s.AgentCreatedSerializer},
        summary="Create a print agent for a packing PC; the answer carries its key, shown once",
    )
    def post(self, request):
        ser = s.AgentCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        agent, key = agents.agent_create(actor=request.wbc_actor, name=ser.validated_data["name"])
        body = s.AgentSerializer(agent).data
        body["key"] = key
        response = Response(body, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


class AgentRevokeView(APIView):
    @extend_schema(request=None, responses=s.AgentSerializer, summary="Revoke an agent's key")
    def post(self, request, agent_id: int):
        agent = selectors.agent_get(actor=request.wbc_actor, agent_id=agent_id)
        agent = agents.agent_revoke(actor=request.wbc_actor, agent=agent)
        return Response(s.AgentSerializer(agent).data)


# --- the agent's endpoints ------------------------------------------------------------------


class AgentUser:
    """The ``request.user`` of an agent request."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False
    pk = None

    def __init__(self, agent: PrintAgent):
        self.agent = agent

    def get_username(self) -> str:
        return f"agent:{self.agent.prefix}"


class AgentAuthScheme(OpenApiAuthenticationExtension):
    target_class = "printing.api.jobs.AgentAuthentication"
    name = "AgentAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Agent <key>`: a print agent's key (打印机 → 打印代理)",
        }


class AgentAuthentication(authentication.BaseAuthentication):
    """``Authorization: Agent <key>``."""

    keyword = "Agent"

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("invalid agent key")
        try:
            key = parts[1].decode()
        except UnicodeError:
            raise AuthenticationFailed("invalid agent key") from None
        agent = agents.agent_authenticate(key=key)
        if agent is None:
            raise AuthenticationFailed("invalid agent key")
        return AgentUser(agent), agent

    def authenticate_header(self, request) -> str:
        return self.keyword


class IsPrintAgent(permissions.BasePermission):
    def has_permission(self, request, view):
        if not isinstance(getattr(request, "auth", None), PrintAgent):
            raise NotAuthenticated()
        return True


class AgentThrottle(TokenRateThrottle):
    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": "agent", "ident": request.auth.pk}


class AgentView(APIView):
    authentication_classes = [AgentAuthentication]
    permission_classes = [IsPrintAgent]
    throttle_classes = [AgentThrottle]


class AgentNextJobView(AgentView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "wait", int, required=False, description="Seconds to wait for a job (≤ 25)"
            )
        ],
        responses={200: s.AgentJobSerializer, 204: OpenApiResponse(description="No job")},
        summary="Print agent: claim the oldest queued job of its printers (long poll)",
    )
    def get(self, request):
        try:
            wait = max(0, min(int(request.query_params.get("wait") or 0), agents.AGENT_WAIT_MAX))
        except ValueError:
            raise ValidationError.for_fields(wait="Seconds, 0 to 25.") from None
        deadline = time.monotonic() + wait
        while True:
            payload = agents.agent_job_claim(agent=request.auth)
            if payload is not None:
                return Response(payload)
            if time.monotonic() >= deadline:
                return Response(status=status.HTTP_204_NO_CONTENT)
            time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))


class AgentJobResultView(AgentView):
    @extend_schema(
        request=s.AgentResultSerializer,
        responses={200: s.AgentResultAnswerSerializer},
        summary="Print agent: the result of each document it tried in this attempt",
    )
    def post(self, request, job_id: int):
        agents.agent_job_get(agent=request.auth, job_id=job_id)  # not its job: 404 before a 400
        ser = s.AgentResultSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        job = agents.agent_job_report(
            agent=request.auth,
            job_id=job_id,
            attempt_id=ser.validated_data["attempt"],
            results=request.data.get("documents"),
        )
        return Response({"job": job.pk, "status": job.status})


urlpatterns = [
    path("printers/", PrinterListView.as_view(), name="api-printer-list"),
    path("printers/<int:printer_id>/", PrinterDetailView.as_view(), name="api-printer-detail"),
    path("printers/<int:printer_id>/test/", PrinterTestView.as_view(), name="api-printer-test"),
    path("printers/agents/", AgentListView.as_view(), name="api-print-agent-list"),
    path("printers/agents/<int:agent_id>/revoke/", AgentRevokeView.as_view()),
    path("print-jobs/", PrintJobListView.as_view(), name="api-print-job-list"),
    path("print-jobs/<int:job_id>/", PrintJobDetailView.as_view(), name="api-print-job-detail"),
    path("print-jobs/<int:job_id>/retry/", PrintJobRetryView.as_view()),
    path("agent/jobs/next/", AgentNextJobView.as_view(), name="api-agent-next-job"),
    path("agent/jobs/<int:job_id>/result/", AgentJobResultView.as_view()),
]
