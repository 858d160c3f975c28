"""Refusals of the webhooks pages and API (see :mod:`waybill_console.errors`).

The field refusals carry ``detail`` keyed by the field (``url``, ``event_types``), each
read on a page by its label (:mod:`events.field_labels`).
"""

from django.utils.translation import gettext_lazy as _

from waybill_console.errors import AppError, ValidationError


class WebhookUrlInvalid(ValidationError):
    code = "WEBHOOK_URL_INVALID"
    status = 400
    message = _("The webhook URL is not valid.")


class WebhookUrlNotAllowed(ValidationError):
    """The URL points at a loopback, private, link-local or reserved address that the
    operator did not allow (``WEBHOOK_ALLOWED_NETWORKS``), or its host does not resolve."""

    code = "WEBHOOK_URL_NOT_ALLOWED"
    status = 400
    message = _("Webhooks cannot be sent to this URL.")


class WebhookEventTypeUnknown(ValidationError):
    code = "WEBHOOK_EVENT_TYPE_UNKNOWN"
    status = 400
    message = _("Some of the event types do not exist.")


class WebhookEndpointLimit(AppError):
    code = "WEBHOOK_ENDPOINT_LIMIT"
    status = 409
    message = _("A shop can have at most %(limit)s webhook endpoints.")


class WebhookEndpointDisabled(AppError):
    """Nothing is posted to a disabled endpoint: a test or a resend would wait forever."""

    code = "WEBHOOK_ENDPOINT_DISABLED"
    status = 409
    message = _("This webhook endpoint is disabled: enable it first.")
