"""Printers: a shop's printers checked and saved (the address a network printer may be on,
its connection's fields, the default one), and which template a test page uses.

The print jobs sent to them are :mod:`printing.print_jobs`; the print agents of agent
printers are :mod:`printing.agents`.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from carriers.models import Carrier, Subscription
from printing import services
from printing.errors import PrinterBusy
from printing.models import Connection, LabelTemplate, PrintAgent, Printer, PrinterKind, PrintJob
from printing.transports import agent as agent_wire
from printing.transports import network
from waybill_console import inputs
from waybill_console import permissions as perms
from waybill_console.errors import NotFound, ValidationError
from waybill_console.tenancy import Actor


def _usb_id(value, field: str, errors: dict) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = value if isinstance(value, int) else int(str(value).strip(), 16)
    except ValueError:
        number = -1
    if isinstance(value, bool) or not 0 < number <= 0xFFFF:
        errors[field] = gettext("A USB id in hex, e.g. 0416.")
        return None
    return number


def _number(value, field: str, errors: dict, *, low, high, decimal: bool = False):
    try:
        number = inputs.finite_decimal(value) if decimal else int(str(value).strip())
    except ValueError:
        errors[field] = gettext("A number from %(low)s to %(high)s.") % {"low": low, "high": high}
        return None
    if isinstance(value, bool) or not low <= number <= high:
        errors[field] = gettext("A number from %(low)s to %(high)s.") % {"low": low, "high": high}
        return None
    return number.quantize(Decimal("0.1")) if decimal else number


def _flag(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _clean_printer(data: dict, *, shop, instance: Printer | None) -> dict:
    """The fields given in ``data`` (all of them for a new printer), checked; the
    connection's own fields must be complete once merged with the instance."""
    partial = instance is not None
    errors: dict = {}
    out: dict = {}

    def given(key: str) -> bool:
        return key in data or not partial

    if given("name"):
        name = str(data.get("name") or "").strip()
        if not name or len(name) > 40:
            errors["name"] = gettext("1 to 40 characters.")
        out["name"] = name
    if given("kind"):
        kind = str(data.get("kind") or "")
        if kind not in PrinterKind.values:
            errors["kind"] = gettext("One of %(choices)s.") % {
                "choices": ", ".join(PrinterKind.values)
            }
        out["kind"] = kind
    if given("connection"):
        connection = str(data.get("connection") or "")
        if connection not in Connection.values:
            errors["connection"] = gettext("One of %(choices)s.") % {
                "choices": ", ".join(Connection.values)
            }
        out["connection"] = connection
    if "host" in data:
        host = str(data.get("host") or "").strip()
        if len(host) > 100 or any(c.isspace() or c == "/" for c in host):
            errors["host"] = gettext("A host name or IP address.")
        out["host"] = host
    if "port" in data and data.get("port") not in (None, ""):
        out["port"] = _number(data["port"], "port", errors, low=1, high=65535)
    for key in ("usb_vendor_id", "usb_product_id"):
        if key in data:
            out[key] = _usb_id(data.get(key), key, errors)
    if "agent" in data:
        agent_id = data.get("agent")
        out["agent"] = None
        if agent_id not in (None, ""):
            agent = PrintAgent.objects.filter(
                shop=shop, pk=_number(agent_id, "agent", errors, low=1, high=2**62) or 0
            ).first()
            if agent is None or agent.revoked_at:
                errors["agent"] = gettext("Not one of this shop's print agents.")
            out["agent"] = agent
    if "agent_target" in data:
        target = str(data.get("agent_target") or "").strip()
        out["agent_target"] = target
    if "dpi" in data or not partial:
        dpi = _number(data.get("dpi") or 203, "dpi", errors, low=203, high=300)
        if dpi is not None and dpi not in services.DPIS:
            errors["dpi"] = gettext("203 or 300.")
        out["dpi"] = dpi
    for key in ("offset_x_mm", "offset_y_mm"):
        if key in data:
            out[key] = _number(data.get(key) or 0, key, errors, low=-20, high=20, decimal=True)
    for key, low, high in (("paper_width_mm", 40, 120), ("paper_height_mm", 40, 300)):
        if key in data and data.get(key) not in (None, ""):
            out[key] = _number(data[key], key, errors, low=low, high=high)
    if "grayscale" in data:
        out["grayscale"] = _flag(data.get("grayscale"))
    if errors:
        raise ValidationError.for_fields(**errors)

    def merged(key: str):
        return out[key] if key in out else getattr(instance, key, None)

    connection = merged("connection")
    if connection == Connection.NETWORK and not merged("host"):
        errors["host"] = gettext("The printer's IP address or host name.")
    elif connection == Connection.NETWORK and {"host", "port", "connection"} & set(out):
        errors.update(printer_address_errors(merged("host"), merged("port") or 9100))
    if connection == Connection.USB:
        for key in ("usb_vendor_id", "usb_product_id"):
            if not merged(key):
                errors[key] = gettext("A USB id in hex, e.g. 0416.")
    if connection == Connection.AGENT:
        if not merged("agent"):
            errors["agent"] = gettext("Choose the print agent of the packing PC.")
        try:
            out["agent_target"] = agent_wire.target_check(merged("agent_target") or "")
        except ValidationError as err:
            errors.update(err.detail)
    if errors:
        raise ValidationError.for_fields(**errors)
    return out


def printer_address_errors(host: str, port: int) -> dict:
    """A network printer must be on an allowed address and port (the transport's rule,
    :mod:`printing.transports.network`); each one refused is a field error. A name is
    resolved now and every address it gives must be allowed; a name that does not resolve
    yet is kept (each connection resolves and checks it again)."""
    errors = {}
    if not network.port_allowed(int(port)):
        errors["port"] = _("Printers are reached on ports %(ports)s.") % {"ports": _ports()}
    try:
        network.host_addresses(host, port)
    except network.AddressRefused as refused:
        errors["host"] = _(
            "%(address)s is not on the local network printers may be on (for example "
            "192.168.1.50); ask the operator to allow it."
        ) % {"address": refused.address}
    except (OSError, UnicodeError):
        pass
    return errors


def _ports() -> str:
    return ", ".join(
        str(low) if low == high else f"{low}–{high}" for low, high in network.allowed_ports()
    )


#: what a printer's owner sets (the API and the page take the same fields; the page
#: shows grayscale and default as their own controls)
PRINTER_FIELDS = (
    "name",
    "kind",
    "connection",
    "host",
    "port",
    "usb_vendor_id",
    "usb_product_id",
    "agent",
    "agent_target",
    "dpi",
    "offset_x_mm",
    "offset_y_mm",
    "paper_width_mm",
    "paper_height_mm",
    "grayscale",
    "is_default",
)


def printer_create(*, actor: Actor, data: dict) -> Printer:
    """A new printer; the shop's first one becomes its default."""
    actor.require(perms.PRINT)
    shop = actor.require_shop()
    fields = _clean_printer(data, shop=shop, instance=None)
    try:
        with transaction.atomic():
            first = not Printer.objects.filter(shop=shop).exists()
            printer = Printer.objects.create(shop=shop, is_default=first, **fields)
    except IntegrityError:
        raise ValidationError.for_fields(name=gettext("A printer with this name exists.")) from None
    if _flag(data.get("is_default")) and not first:
        printer_set_default(actor=actor, printer=printer)
    return printer


def own(actor: Actor, obj) -> None:
    if obj.shop_id != actor.require_shop().pk:
        raise NotFound()


def printer_update(*, actor: Actor, printer: Printer, data: dict) -> Printer:
    actor.require(perms.PRINT)
    own(actor, printer)
    fields = _clean_printer(data, shop=printer.shop, instance=printer)
    for key, value in fields.items():
        setattr(printer, key, value)
    try:
        with transaction.atomic():
            printer.save()
    except IntegrityError:
        raise ValidationError.for_fields(name=gettext("A printer with this name exists.")) from None
    if _flag(data.get("is_default")):
        printer_set_default(actor=actor, printer=printer)
    return printer


def printer_set_default(*, actor: Actor, printer: Printer) -> Printer:
    actor.require(perms.PRINT)
    own(actor, printer)
    with transaction.atomic():
        Printer.objects.filter(shop_id=printer.shop_id, is_default=True).exclude(
            pk=printer.pk
        ).update(is_default=False)
        Printer.objects.filter(pk=printer.pk).update(is_default=True)
    printer.is_default = True
    return printer


def printer_delete(*, actor: Actor, printer: Printer) -> None:
    """Delete the printer and its print history (the waybills keep their print counts);
    refused while one of its jobs is queued or sending."""
    actor.require(perms.PRINT)
    own(actor, printer)
    with transaction.atomic():
        locked = Printer.objects.select_for_update().filter(pk=printer.pk).first()
        if locked is None:
            return
        busy = PrintJob.objects.filter(
            printer=locked, status__in=[PrintJob.Status.QUEUED, PrintJob.Status.SENDING]
        )
        if busy.exists():
            raise PrinterBusy()
        PrintJob.objects.filter(printer=locked).delete()
        locked.delete()


def sample_label_template(shop, template_id: int | None) -> LabelTemplate:
    """The template a test page uses: the chosen one, the shop's default (first carrier),
    else the built-in one of the carrier of its first e-waybill service (ZTO otherwise)."""
    if template_id:
        chosen = LabelTemplate.objects.filter(shop=shop, pk=template_id).first()
        if chosen is None:
            raise ValidationError.for_fields(template=gettext("Not one of this shop's templates."))
        return chosen
    default = (
        LabelTemplate.objects.filter(shop=shop, is_default=True)
        .select_related("carrier")
        .order_by("carrier__code", "id")
        .first()
    )
    if default:
        return default
    used = Subscription.objects.filter(shop=shop).order_by("id").values("carrier_id")[:1]
    carrier = (
        Carrier.objects.filter(pk__in=used).first()
        or Carrier.objects.filter(code="ZTO").first()
        or Carrier.objects.order_by("code").first()
    )
    return services.template_for(shop=shop, carrier=carrier)


def printer_ready(printer: Printer) -> None:
    if printer.connection == Connection.AGENT and (
        printer.agent_id is None or printer.agent.revoked_at is not None
    ):
        raise ValidationError.for_fields(
            printer="This printer's print agent is missing or revoked; choose another agent."
        )
