"""USB printers plugged into the server host, through python-escpos (pyusb underneath).

The device is opened once per attempt (:func:`connect`) and each document goes out with
one bulk write (:func:`send`); a write that returns without a USB error is the printer's
confirmation. The OUT bulk endpoint is read from the device's descriptors, since printers
differ (0x01, 0x02, 0x03…).

``BACKEND`` is the pyusb backend to search with (``None``: pyusb picks libusb); tests set a
backend double that records what the "printer" received.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from printing.transports import DROPPED, OFFLINE, TransportError

#: milliseconds a bulk write may take before it counts as a dropped connection
WRITE_TIMEOUT_MS = 20_000
BACKEND: Any = None


def device_id(vendor_id: int | None, product_id: int | None) -> str:
    return f"{vendor_id or 0:04x}:{product_id or 0:04x}"


def _out_endpoint(device) -> int | None:
    import usb.util

    for interface in device.get_active_configuration():
        endpoint = usb.util.find_descriptor(
            interface,
            custom_match=lambda e: (
                usb.util.endpoint_direction(e.bEndpointAddress) == usb.util.ENDPOINT_OUT
                and usb.util.endpoint_type(e.bmAttributes) == usb.util.ENDPOINT_TYPE_BULK
            ),
        )
        if endpoint is not None:
            return endpoint.bEndpointAddress
    return None


@contextmanager
def connect(
    vendor_id: int | None,
    product_id: int | None,
    *,
    backend: Any = None,
    timeout_ms: int = WRITE_TIMEOUT_MS,
) -> Iterator[Any]:
    """The opened ``escpos.printer.Usb``; ``offline`` when the device is not there."""
    import usb.core
    from escpos.exceptions import DeviceNotFoundError
    from escpos.printer import Usb

    name = device_id(vendor_id, product_id)
    if not vendor_id or not product_id:
        raise TransportError(OFFLINE, f"USB {name}: no vendor/product id")
    backend = backend or BACKEND
    printer = Usb(
        vendor_id,
        product_id,
        usb_args={"backend": backend} if backend is not None else {},
        timeout=timeout_ms,
    )
    try:
        printer.open()
        endpoint = _out_endpoint(printer.device)
    except DeviceNotFoundError as err:
        raise TransportError(OFFLINE, f"USB {name} not found") from err
    except usb.core.NoBackendError as err:
        raise TransportError(OFFLINE, "no USB backend (libusb) on the server") from err
    except usb.core.USBError as err:
        raise TransportError(OFFLINE, f"USB {name}: {err.strerror or err}") from err
    if endpoint is None:
        printer.close()
        raise TransportError(OFFLINE, f"USB {name}: no bulk OUT endpoint")
    printer.out_ep = endpoint
    try:
        yield printer
    finally:
        printer.close()


def send(printer: Any, data: bytes) -> int:
    """One document in one bulk write; returns the bytes sent."""
    import usb.core

    try:
        printer._raw(data)
    except usb.core.USBTimeoutError as err:
        raise TransportError(DROPPED, "timeout", total=len(data)) from err
    except usb.core.USBError as err:
        raise TransportError(DROPPED, str(err.strerror or err), total=len(data)) from err
    return len(data)
