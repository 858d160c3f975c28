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


class LoginLockedForClient(LoginLocked):
    message = _("Too many failed logins from this network address; try again in an hour.")


class AddressLimit(AppError):
    code = "ADDRESS_LIMIT"
    status = 422
    message = _("A shop can keep at most %(limit)s shipping addresses.")


class AddressInUse(AppError):
    code = "ADDRESS_IN_USE"
    status = 409
    message = _(
        "This address is the sender address of an e-waybill subscription and cannot be "
        "deleted; edit it instead."
    )


class AddressUnknownRegion(AppError):
    code = "VALIDATION_ERROR"
    status = 400
    message = _("The region is not in the administrative-division list.")


class PlatformWaybillRequired(AppError):
    code = "PLATFORM_WAYBILL_REQUIRED"
    status = 422
    message = _(
        "This shop is flagged for no-source risk (无货源风险) and must ship with a platform "
        "e-waybill; hand-typed tracking numbers are not accepted."
    )


class OrderStateConflict(AppError):
    code = "ORDER_STATE_CONFLICT"
    status = 409
    message = _("The order is %(status)s; this action is not possible now.")


class AlreadyShipped(AppError):
    code = "ALREADY_SHIPPED"
    status = 409
    message = _("The order has already been shipped.")


class OrderBlocked(AppError):
    code = "ORDER_BLOCKED"
    status = 409
    message = _("The order is blocked: %(reason)s.")


class OrderNotAllocatable(AppError):
    """取号 for an order that is not paid, or already shipped (re-exported by
    ``waybills.errors``, where it was first defined)."""

    code = "ORDER_NOT_ALLOCATABLE"
    status = 409
    message = _("Numbers are drawn only for paid orders not yet shipped (this one is %(status)s).")


class OrderNotDropshippable(AppError):
    """Handing an order that is not awaiting shipment to a factory (代发分配): the dropship
    wording of ORDER_STATE_CONFLICT."""

    code = "ORDER_STATE_CONFLICT"
    status = 409
    message = _("The order is %(status)s; only orders awaiting shipment can be handed over.")


class RerouteNotAllowed(AppError):
    code = "REROUTE_NOT_ALLOWED"
    status = 409
    message = _("A failed delivery can be re-routed once, within 12 days.")


class RerouteAlreadyUsed(RerouteNotAllowed):
    code = "REROUTE_ALREADY_USED"
    message = _("This order has already been re-routed once; it cannot be re-routed again.")


class RerouteWindowClosed(RerouteNotAllowed):
    code = "REROUTE_WINDOW_CLOSED"
    message = _(
        "A failed delivery can be re-routed only within 12 days of the failure; "
        "that time has passed."
    )


class PaymentWindowClosed(AppError):
    code = "PAYMENT_WINDOW_CLOSED"
    status = 409
    message = _(
        "An unpaid order is cancelled 48 hours after it was placed; it can no longer be paid."
    )


class ExportTooLarge(AppError):
    code = "EXPORT_TOO_LARGE"
    status = 422
    message = _(
        "An export covers at most the last 90 days and at most %(limit)s rows; "
        "this one has %(count)s. Narrow the filters."
    )


class ImportInvalid(AppError):
    code = "IMPORT_INVALID"
    status = 400
    message = _("The file has %(count)s bad line(s); nothing was imported.")
