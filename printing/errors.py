from django.utils.translation import gettext_lazy as _

from waybill_console.errors import AppError


class PaperSizeMismatch(AppError):
    code = "PAPER_SIZE_MISMATCH"
    status = 409
    message = _("The label (%(label)s mm) does not fit the printer's paper (%(paper)s mm).")


class PrinterOffline(AppError):
    code = "PRINTER_OFFLINE"
    status = 503
    message = _("The printer is offline: %(reason)s")


class PrintTooMany(AppError):
    code = "BATCH_TOO_LARGE"
    status = 400
    message = _("At most %(limit)s labels per print job.")


class WaybillNotPrintable(AppError):
    code = "WAYBILL_NOT_PRINTABLE"
    status = 409
    message = _("Only live waybill numbers can be printed (this one is %(status)s).")
