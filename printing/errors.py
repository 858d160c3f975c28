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


class PrintInterrupted(AppError):
    code = "PRINT_INTERRUPTED"
    status = 503
    message = _("Connection dropped (%(cause)s): %(sent)s/%(total)s bytes sent")


class PrintNotConfirmed(AppError):
    code = "PRINT_NOT_CONFIRMED"
    status = 504
    message = _(
        "The printer did not confirm the label within %(seconds)s s (%(sent)s/%(total)s bytes sent)"
    )


class PrintFailed(AppError):
    code = "PRINT_FAILED"
    status = 503
    message = _("The printer refused the label: %(reason)s")


class PrintJobState(AppError):
    code = "PRINT_JOB_STATE"
    status = 409
    message = _("Only a failed or stuck print job can be retried (this one is %(status)s).")


class PrinterBusy(AppError):
    code = "PRINTER_BUSY"
    status = 409
    message = _("The printer has print jobs in progress; wait for them to finish.")


class PrinterAddressNotAllowed(AppError):
    code = "PRINTER_ADDRESS_NOT_ALLOWED"
    status = 422
    message = _(
        "The printer's %(what)s is not one printers may be on; change the printer's settings "
        "or ask the operator to allow it."
    )


class ReprintNotConfirmed(AppError):
    code = "REPRINT_NOT_CONFIRMED"
    status = 409
    message = _("Already printed: %(numbers)s. Confirm to print the label again (reprint).")
