"""Send one document to a printer on this PC and say whether the printer confirmed it.

Targets (set on the printer in the console):

- ``tcp://host:port``: raw TCP (9100). One connection per document; after sending, the
  agent half-closes and waits for the printer to close its side, which it does only once
  it has read the whole document (the confirmation).
- ``usb://VID:PID`` (hex): a USB printer through pyusb (libusb), one bulk write.
- ``win://Printer Name``: the Windows spooler (pywin32), as a RAW document; the spooler
  accepting the whole document is the confirmation.
"""

from __future__ import annotations

import errno
import socket
import time
from typing import Any

OFFLINE, DROPPED, UNCONFIRMED, FAILED = "offline", "dropped", "unconfirmed", "failed"

CONNECT_TIMEOUT = 5.0
SEND_TIMEOUT = 20.0
CONFIRM_TIMEOUT = 30.0
USB_TIMEOUT_MS = 20_000
CHUNK = 16 * 1024

#: the pyusb backend to search with (None: pyusb's default, libusb)
USB_BACKEND: Any = None


class SendError(Exception):
    """The document was not confirmed: ``kind`` is offline (nothing sent), dropped,
    unconfirmed or failed; ``sent`` of ``total`` bytes went out."""

    def __init__(self, kind: str, detail: str, *, sent: int = 0, total: int = 0, seconds=0):
        super().__init__(f"{kind}: {detail} ({sent}/{total} bytes)")
        self.kind, self.detail = kind, detail
        self.sent, self.total, self.seconds = sent, total, seconds

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "detail": self.detail,
            "sent": self.sent,
            "total": self.total,
            "seconds": self.seconds,
        }


def send(target: str, data: bytes) -> int:
    """Send ``data`` to ``target``; returns the bytes sent, or raises :class:`SendError`."""
    scheme, _sep, rest = (target or "").partition("://")
    if scheme == "tcp":
        host, _sep, port = rest.rpartition(":")
        if not host or not port.isdigit():
            raise SendError(FAILED, f"bad printer target {target!r}", total=len(data))
        return tcp_send(host.strip("[]"), int(port), data)
    if scheme == "usb":
        vid, _sep, pid = rest.partition(":")
        try:
            return usb_send(int(vid, 16), int(pid, 16), data)
        except ValueError:
            raise SendError(FAILED, f"bad printer target {target!r}", total=len(data)) from None
    if scheme == "win":
        return windows_send(rest, data)
    raise SendError(FAILED, f"unknown printer target {target!r}", total=len(data))


# --- raw TCP ----------------------------------------------------------------------------------


def _detail(err: OSError) -> str:
    if isinstance(err, TimeoutError):
        return "timeout"
    if isinstance(err, ConnectionRefusedError):
        return "refused"
    if isinstance(err, ConnectionResetError):
        return "reset"
    if isinstance(err, BrokenPipeError):
        return "broken pipe"
    if isinstance(err, socket.gaierror):
        return "unknown host"
    if err.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "unreachable"
    return err.strerror or err.__class__.__name__


def tcp_send(
    host: str,
    port: int,
    data: bytes,
    *,
    connect_timeout: float | None = None,
    send_timeout: float | None = None,
    confirm_timeout: float | None = None,
) -> int:
    """One document over raw TCP; the printer closing its side is the confirmation.
    The server's network transport sends through this same function."""
    connect_timeout = connect_timeout or CONNECT_TIMEOUT
    send_timeout = send_timeout or SEND_TIMEOUT
    confirm_timeout = confirm_timeout or CONFIRM_TIMEOUT
    total = len(data)
    try:
        sock = socket.create_connection((host, int(port)), timeout=connect_timeout)
    except OSError as err:
        raise SendError(OFFLINE, _detail(err), total=total) from err
    sent = 0
    with sock:
        sock.settimeout(send_timeout)
        view = memoryview(data)
        try:
            while sent < total:
                sent += sock.send(view[sent : sent + CHUNK])
        except OSError as err:
            raise SendError(DROPPED, _detail(err), sent=sent, total=total) from err
        deadline = time.monotonic() + confirm_timeout
        try:
            sock.shutdown(socket.SHUT_WR)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                sock.settimeout(left)
                if not sock.recv(4096):
                    break
        except TimeoutError as err:
            raise SendError(
                UNCONFIRMED, "timeout", sent=sent, total=total, seconds=confirm_timeout
            ) from err
        except OSError as err:
            raise SendError(DROPPED, _detail(err), sent=sent, total=total) from err
    return sent


# --- USB (pyusb) ------------------------------------------------------------------------------


def usb_send(vendor_id: int, product_id: int, data: bytes) -> int:
    total = len(data)
    name = f"{vendor_id:04x}:{product_id:04x}"
    try:
        import usb.core
        import usb.util
    except ImportError:
        raise SendError(OFFLINE, "pyusb is not installed (pip install pyusb)", total=total)
    try:
        device = usb.core.find(idVendor=vendor_id, idProduct=product_id, backend=USB_BACKEND)
    except usb.core.NoBackendError:
        raise SendError(OFFLINE, "no USB backend (install libusb)", total=total) from None
    if device is None:
        raise SendError(OFFLINE, f"USB {name} not found", total=total)
    try:
        try:
            if device.is_kernel_driver_active(0):
                device.detach_kernel_driver(0)
        except (NotImplementedError, usb.core.USBError):
            pass
        try:
            config = device.get_active_configuration()
        except usb.core.USBError:
            device.set_configuration()
            config = device.get_active_configuration()
        endpoint = None
        for interface in config:
            endpoint = usb.util.find_descriptor(
                interface,
                custom_match=lambda e: (
                    usb.util.endpoint_direction(e.bEndpointAddress) == usb.util.ENDPOINT_OUT
                    and usb.util.endpoint_type(e.bmAttributes) == usb.util.ENDPOINT_TYPE_BULK
                ),
            )
            if endpoint is not None:
                break
        if endpoint is None:
            raise SendError(OFFLINE, f"USB {name}: no bulk OUT endpoint", total=total)
        try:
            written = device.write(endpoint.bEndpointAddress, data, USB_TIMEOUT_MS)
        except usb.core.USBTimeoutError as err:
            raise SendError(DROPPED, "timeout", total=total) from err
        except usb.core.USBError as err:
            raise SendError(DROPPED, str(err.strerror or err), total=total) from err
        if written != total:
            raise SendError(DROPPED, "short write", sent=written, total=total)
        return written
    finally:
        usb.util.dispose_resources(device)


# --- the Windows spooler (pywin32) ------------------------------------------------------------


def windows_send(printer_name: str, data: bytes) -> int:
    total = len(data)
    try:
        import pywintypes
        import win32print
    except ImportError:
        raise SendError(
            OFFLINE, "the Windows spooler needs pywin32 (pip install pywin32)", total=total
        ) from None
    try:
        handle = win32print.OpenPrinter(printer_name)
    except pywintypes.error as err:
        raise SendError(OFFLINE, f"{printer_name}: {err.strerror}", total=total) from err
    try:
        win32print.StartDocPrinter(handle, 1, ("Waybill label", None, "RAW"))
        try:
            win32print.StartPagePrinter(handle)
            written = win32print.WritePrinter(handle, data)
            win32print.EndPagePrinter(handle)
        finally:
            win32print.EndDocPrinter(handle)
    except pywintypes.error as err:
        raise SendError(DROPPED, f"{printer_name}: {err.strerror}", total=total) from err
    finally:
        win32print.ClosePrinter(handle)
    if written != total:
        raise SendError(DROPPED, "short write", sent=written, total=total)
    return written
