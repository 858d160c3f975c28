"""Stand-in printers that receive real bytes: a TCP listener on 127.0.0.1 (raw 9100) and a
pyusb backend with one USB printer whose bulk OUT endpoint records what it gets."""

from __future__ import annotations

import socket
import struct
import threading
from types import SimpleNamespace

import usb.core
from usb.backend import IBackend

#: how a connection is handled: read to end-of-file then close (the confirmation), read
#: some bytes then reset the connection, or read to end-of-file and never close
PRINT, DROP, HANG = "print", "drop", "hang"


class PrinterListener:
    """A network printer on 127.0.0.1:<port>. ``behaviour`` gives each connection's
    handling in turn (the last one repeats); ``documents`` holds each connection's bytes
    that the "printer" read to the end (and confirmed by closing)."""

    def __init__(self, *behaviour: str, drop_after: int = 1000, rcvbuf: int | None = None):
        self.behaviour = list(behaviour or (PRINT,))
        self.drop_after = drop_after
        self.documents: list[bytes] = []
        self.partial: list[bytes] = []
        self.connections = 0
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf:
            self._server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(8)
        self._server.settimeout(0.2)
        self.host, self.port = self._server.getsockname()
        self._stop = threading.Event()
        self._hanging: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def target(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    def __enter__(self) -> PrinterListener:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._hanging:
            conn.close()
        self._server.close()

    def _mode(self) -> str:
        index = min(self.connections, len(self.behaviour) - 1)
        return self.behaviour[index]

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _addr = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            mode = self._mode()
            self.connections += 1
            conn.settimeout(10)
            if mode == DROP:
                self._drop(conn)
            else:
                self._read_to_eof(conn, close=mode == PRINT)

    def _read_to_eof(self, conn: socket.socket, *, close: bool) -> None:
        data = bytearray()
        try:
            while chunk := conn.recv(65536):
                data += chunk
        except OSError:
            self.partial.append(bytes(data))
            conn.close()
            return
        self.documents.append(bytes(data))
        if close:
            conn.close()
        else:
            self._hanging.append(conn)

    def _drop(self, conn: socket.socket) -> None:
        data = bytearray()
        while len(data) < self.drop_after:
            chunk = conn.recv(self.drop_after - len(data))
            if not chunk:
                break
            data += chunk
        self.partial.append(bytes(data))
        # a reset, as a printer switched off or a cable pulled mid-label looks to the sender
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()


def closed_port() -> int:
    """A port on 127.0.0.1 with nobody listening (an offline printer)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- USB --------------------------------------------------------------------------------------

OUT_EP, IN_EP = 0x02, 0x81


class FakeUsbPrinterBackend(IBackend):
    """A pyusb backend that enumerates one USB printer (class 7) with a bulk OUT endpoint
    0x02 and a bulk IN endpoint 0x81. ``writes`` holds each bulk write's bytes; with
    ``fail_on_write=n`` the n-th write (1-based) raises a USB pipe error."""

    def __init__(self, vendor_id: int = 0x0416, product_id: int = 0x5011, fail_on_write=None):
        self.vendor_id, self.product_id = vendor_id, product_id
        self.fail_on_write = fail_on_write
        self.writes: list[bytes] = []
        self.opened = 0
        self.closed = 0
        self.configuration = 0

    @property
    def received(self) -> bytes:
        return b"".join(self.writes)

    def enumerate_devices(self):
        yield "printer-0"

    def get_parent(self, dev):
        return None

    def get_device_descriptor(self, dev):
        return SimpleNamespace(
            bLength=18, bDescriptorType=1, bcdUSB=0x0200, bDeviceClass=0, bDeviceSubClass=0,
            bDeviceProtocol=0, bMaxPacketSize0=64, idVendor=self.vendor_id,
            idProduct=self.product_id, bcdDevice=0x0100, iManufacturer=0, iProduct=0,
            iSerialNumber=0, bNumConfigurations=1, address=4, bus=1, port_number=2,
            port_numbers=(2,), speed=3,
        )  # fmt: skip

    def get_configuration_descriptor(self, dev, config):
        if config != 0:
            raise IndexError(config)
        return SimpleNamespace(
            bLength=9, bDescriptorType=2, wTotalLength=32, bNumInterfaces=1,
            bConfigurationValue=1, iConfiguration=0, bmAttributes=0xC0, bMaxPower=50,
            extra_descriptors=[],
        )  # fmt: skip

    def get_interface_descriptor(self, dev, intf, alt, config):
        if intf != 0 or alt != 0 or config != 0:
            raise IndexError((intf, alt))
        return SimpleNamespace(
            bLength=9, bDescriptorType=4, bInterfaceNumber=0, bAlternateSetting=0,
            bNumEndpoints=2, bInterfaceClass=7, bInterfaceSubClass=1, bInterfaceProtocol=2,
            iInterface=0, extra_descriptors=[],
        )  # fmt: skip

    def get_endpoint_descriptor(self, dev, ep, intf, alt, config):
        if ep not in (0, 1):
            raise IndexError(ep)
        return SimpleNamespace(
            bLength=7, bDescriptorType=5, bEndpointAddress=(OUT_EP, IN_EP)[ep],
            bmAttributes=0x02, wMaxPacketSize=64, bInterval=0, bRefresh=0, bSynchAddress=0,
            extra_descriptors=[],
        )  # fmt: skip

    def open_device(self, dev):
        self.opened += 1
        return "handle"

    def close_device(self, dev_handle):
        self.closed += 1

    def set_configuration(self, dev_handle, config_value):
        self.configuration = config_value

    def get_configuration(self, dev_handle):
        return self.configuration

    def set_interface_altsetting(self, dev_handle, intf, altsetting):
        pass

    def claim_interface(self, dev_handle, intf):
        pass

    def release_interface(self, dev_handle, intf):
        pass

    def reset_device(self, dev_handle):
        pass

    def is_kernel_driver_active(self, dev_handle, intf):
        return False

    def detach_kernel_driver(self, dev_handle, intf):
        pass

    def bulk_write(self, dev_handle, ep, intf, data, timeout):
        assert ep == OUT_EP and intf == 0
        if self.fail_on_write and len(self.writes) + 1 == self.fail_on_write:
            self.fail_on_write = None
            raise usb.core.USBError("Pipe error", error_code=-9, errno=32)
        self.writes.append(bytes(data))
        return len(data)
