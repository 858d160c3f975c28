from django.utils.translation import gettext_lazy as _

from waybill_console.errors import AppError


class OrderNoTaken(AppError):
    code = "ORDER_NO_TAKEN"
    status = 409
    message = _("Order number %(order_no)s already exists in this shop.")


class ShopNotAvailable(AppError):
    code = "NOT_FOUND"
    status = 404
    message = _("You have no account in this shop.")


class LoginLocked(AppError):
    code = "RATE_LIMITED"
    status = 429
    message = _("Too many failed logins for this account; try again in an hour.")
