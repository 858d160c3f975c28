from django.utils.translation import gettext_lazy as _

from carriers.errors import CancelLimitReached  # noqa: F401 (the cap is the quota owner's)
from shops.errors import OrderNotAllocatable  # noqa: F401 (shops owns the order's rules)
from waybill_console.errors import AppError, BatchTooLarge


class WaybillNotCancellable(AppError):
    """One code for outside systems; ``detail.reason`` says which rule refused
    (``has_tracking``, ``picked_up``, ``already_cancelled``, ``recycled``, ``shipped``)."""

    code = "WAYBILL_NOT_CANCELLABLE"
    status = 409
    message = _("This waybill number cannot be cancelled: %(reason)s.")

    REASONS = {
        "has_tracking": _("it already has tracking"),
        "picked_up": _("the parcel was picked up"),
        "already_cancelled": _("it was already cancelled"),
        "recycled": _("it was recycled"),
        "shipped": _("the order was shipped with it"),
    }

    #: another number of the same carrier order, which the carrier cancels with this one
    SIBLING_MESSAGE = _(
        "Waybill %(waybill_no)s of the same order cannot be cancelled: %(reason)s. The "
        "carrier cancels the order's numbers together."
    )

    def __init__(self, reason: str, *, sibling: str = ""):
        if sibling:
            super().__init__(
                self.SIBLING_MESSAGE,
                reason=self.REASONS[reason],
                waybill_no=sibling,
                detail={"reason": reason, "waybill_no": sibling},
            )
        else:
            super().__init__(reason=self.REASONS[reason], detail={"reason": reason})


class CancelWholeOrderOnly(AppError):
    """The carrier cancels every number of a carrier order at once (SF: by ``orderId``, all
    packages of a 子母件): one of them cannot be cancelled while the others are live.
    ``detail.waybill_nos``: the numbers a cancel would take, all to be cancelled in one
    request (``whole_order``)."""

    code = "CANCEL_WHOLE_ORDER_ONLY"
    status = 409
    message = _(
        "%(carrier)s cancels all packages of an order together: this order's %(count)s "
        "packages (%(waybill_nos)s) can only be cancelled all at once."
    )

    def __init__(self, *, carrier: str, waybill_nos: list[str]):
        super().__init__(
            carrier=carrier,
            count=len(waybill_nos),
            waybill_nos=", ".join(waybill_nos),
            detail={"waybill_nos": list(waybill_nos)},
        )


class WaybillNotUpdatable(AppError):
    code = "WAYBILL_NOT_UPDATABLE"
    status = 409
    message = _("The parcel was already picked up; the waybill can no longer be changed.")


class MultiPackageNotSupported(AppError):
    code = "MULTI_PACKAGE_NOT_SUPPORTED"
    status = 422
    message = _("This carrier does not support parent and sub numbers (子母件).")


class WaybillOrderMismatch(AppError):
    code = "WAYBILL_ORDER_MISMATCH"
    status = 409
    message = _("This waybill number does not belong to the order, or is no longer valid.")


class WaybillReceiverNotEditable(AppError):
    """A factory's number for a merchant's order (代发): the order, and so its receiver,
    is the merchant's."""

    code = "WAYBILL_RECEIVER_NOT_EDITABLE"
    status = 403
    message = _("Only the shop that owns the order can change its receiver.")


class OrderHasOwnWaybill(AppError):
    """One parcel per order: the order carries its own shop's live number (printed or
    not), so a factory's number (代发) would send a second one. ``detail.waybill_no`` is
    the number as the asking side may see it (masked for a factory)."""

    code = "ORDER_HAS_OWN_WAYBILL"
    status = 409
    message = _(
        "The order already has the merchant's own waybill number %(waybill_no)s; a "
        "factory's number would send a second parcel. The merchant must cancel that "
        "number first."
    )


class BatchShipTooLarge(BatchTooLarge):
    """批量发货 of more orders than one batch takes, named with how many were selected (the
    page's "select all N matching orders" may select thousands)."""

    message = _(
        "Batch shipping handles at most %(limit)s orders at a time; %(count)s are selected."
    )
