"""OpenAPI: descriptions of our authentication classes (loaded in AppConfig.ready) and the
one error object documented on every operation (a postprocessing hook)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers


class TokenAuthScheme(OpenApiAuthenticationExtension):
    target_class = "waybill_console.api.TokenAuthentication"
    name = "TokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>` from `manage.py create_api_token`",
        }


class SessionAuthScheme(OpenApiAuthenticationExtension):
    target_class = "waybill_console.api.SessionAuthentication"
    name = "SessionAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


class AutoSchema(SpectacularAutoSchema):
    """List views are plain ``APIView``s that page with ``waybill_console.api.paginated``
    (or ``Pagination`` directly): document the envelope they answer with
    (``count``, ``next``, ``previous``, ``results``) and the ``page``/``page_size``
    parameters, as a ``GenericAPIView`` with ``pagination_class`` would get."""

    def _get_paginator(self):
        paginator = super()._get_paginator()
        if paginator is not None:
            return paginator
        handler = getattr(self.view, self.method.lower(), None)
        code = getattr(handler, "__code__", None)
        if code is not None and {"paginated", "Pagination"} & set(code.co_names):
            from waybill_console.api import Pagination

            return Pagination()
        return None


#: what every non-2xx answer may be, by method (shared/API.md, "Errors")
ERROR_STATUSES = {
    "400": "Bad input: `detail` names the fields (VALIDATION_ERROR, …).",
    "401": "No or invalid credentials (NOT_AUTHENTICATED).",
    "403": "Not allowed for this token or account (PERMISSION_DENIED, …).",
    "404": "Not found, or not yours (NOT_FOUND).",
    "409": "State conflict (ALREADY_SHIPPED, CANCEL_LIMIT_REACHED, …).",
    "422": "Business refusal (QUOTA_INSUFFICIENT, screening codes, …).",
    "413": "Request body over the size limit, or too many fields (REQUEST_TOO_LARGE).",
    "415": "A request body in a media type the operation does not read.",
    "429": "Rate limited (RATE_LIMITED); see `Retry-After`.",
    "503": "Carrier gateway failure.",
    "504": "Carrier gateway timeout.",
}
#: a read never conflicts, refuses on business grounds or calls a carrier
READ_ONLY_ERROR_STATUSES = ("400", "401", "403", "404", "429")

ERROR_COMPONENT = {
    "type": "object",
    "description": "Every non-2xx answer. `message` follows `Accept-Language`.",
    "properties": {
        "code": {"type": "string", "description": "Stable upper-snake code, never translated"},
        "message": {"type": "string", "description": "Human-readable, translated"},
        "detail": {
            "type": "object",
            "additionalProperties": True,
            "description": "Field errors for VALIDATION_ERROR, parameters otherwise",
        },
    },
    "required": ["code", "message", "detail"],
    "additionalProperties": False,
}


@extend_schema_serializer(component_name="Error")
class ErrorSerializer(serializers.Serializer):
    """The error object where an answer carries one inside (a batch's failed item, a failed
    job): ``{"error": {"code", "message", "detail"}}``. The same ``Error`` component as every
    non-2xx answer (:data:`ERROR_COMPONENT` is its full description)."""

    code = serializers.CharField()
    message = serializers.CharField()
    detail = serializers.DictField()


#: an error object, or null while there is none (a job that has not failed). Not ``allOf``
#: with ``nullable``: OpenAPI 3.0 applies ``nullable`` only next to ``type``, so strict
#: validators refuse the null there.
NULLABLE_ERROR = {
    "oneOf": [{"$ref": "#/components/schemas/Error"}, {"enum": [None]}],
    "readOnly": True,
}


def add_error_responses(result, generator, request, public):
    """Postprocessing hook: document the one error object on every operation, once, here,
    rather than on each view (an answer the schema does not list is a contract bug)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_COMPONENT
    ref = {"$ref": "#/components/schemas/Error"}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in ("get", "head", "post", "put", "patch", "delete"):
                continue
            statuses = READ_ONLY_ERROR_STATUSES if method in ("get", "head") else ERROR_STATUSES
            if "requestBody" not in operation:
                statuses = [s for s in statuses if s not in ("413", "415")]
            responses = operation.setdefault("responses", {})
            for status in statuses:
                responses.setdefault(
                    status,
                    {
                        "description": ERROR_STATUSES[status],
                        "content": {"application/json": {"schema": ref}},
                    },
                )
    return result
