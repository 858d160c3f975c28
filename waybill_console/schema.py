"""OpenAPI descriptions of our authentication classes (loaded in AppConfig.ready)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


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
