"""The transports on real bytes: raw TCP against a listener on 127.0.0.1 (confirmed,
offline, dropped, unconfirmed) and USB through python-escpos on a pyusb backend double."""

from __future__ import annotations

import os

import pytest

from printing.transports import DROPPED, OFFLINE, UNCONFIRMED, TransportError, network, usb
from tests.printing.doubles import (
    DROP,
    HANG,
    OUT_EP,
    PRINT,
    FakeUsbPrinterBackend,
    PrinterListener,
    closed_port,
)

LABEL = b"\x1b@" + bytes(range(256)) * 400 + b"\x1dV\x00"  # 102,404 bytes


# --- network (raw TCP 9100) -------------------------------------------------------------------


def test_network_printer_receives_the_exact_bytes_and_confirms_by_closing():
    with PrinterListener(PRINT) as printer:
        sent = network.send(printer.host, printer.port, LABEL)
    assert sent == len(LABEL)
    assert printer.documents == [LABEL]


def test_network_one_connection_per_document():
    with PrinterListener(PRINT) as printer:
        for i in range(3):
            network.send(printer.host, printer.port, LABEL + bytes([i]))
    assert printer.connections == 3
    assert printer.documents == [LABEL + b"\x00", LABEL + b"\x01", LABEL + b"\x02"]


def test_network_offline_printer_is_refused_without_sending():
    with pytest.raises(TransportError) as caught:
        network.send("127.0.0.1", closed_port(), LABEL)
    err = caught.value
    assert (err.kind, err.detail, err.sent, err.total) == (OFFLINE, "refused", 0, len(LABEL))


def test_network_connection_dropped_mid_document():
    """The printer reads 1,000 bytes and resets the connection (switched off, cable
    pulled): not confirmed, with how much of the document went out."""
    big = os.urandom(16_000_000)
    with PrinterListener(DROP, drop_after=1000, rcvbuf=4096) as printer:
        with pytest.raises(TransportError) as caught:
            network.send(printer.host, printer.port, big)
    err = caught.value
    assert err.kind == DROPPED and err.detail in ("reset", "broken pipe")
    assert 1000 <= err.sent < err.total == len(big)
    assert printer.partial == [big[:1000]] and printer.documents == []


def test_network_dropped_after_everything_was_sent_is_not_a_confirmation():
    """A small label fits the socket buffers: every byte is sent, but the printer resets
    instead of closing after end-of-file, so the label is not confirmed."""
    with PrinterListener(DROP, drop_after=10) as printer:
        with pytest.raises(TransportError) as caught:
            network.send(printer.host, printer.port, LABEL)
    assert caught.value.kind == DROPPED
    assert caught.value.total == len(LABEL)


def test_network_printer_that_never_closes_is_unconfirmed():
    with PrinterListener(HANG) as printer:
        with pytest.raises(TransportError) as caught:
            network.send(printer.host, printer.port, LABEL, confirm_timeout=0.5)
    err = caught.value
    assert (err.kind, err.sent, err.total, err.seconds) == (
        UNCONFIRMED,
        len(LABEL),
        len(LABEL),
        0.5,
    )
    assert printer.documents == [LABEL]  # it read everything, but never said so


def test_network_unknown_host_is_offline():
    with pytest.raises(TransportError) as caught:
        network.send("printer.invalid", 9100, LABEL, connect_timeout=2)
    assert caught.value.kind == OFFLINE and caught.value.sent == 0


# --- USB (python-escpos over pyusb) -----------------------------------------------------------


def test_usb_printer_gets_the_exact_bytes_on_its_bulk_out_endpoint():
    backend = FakeUsbPrinterBackend(vendor_id=0x0416, product_id=0x5011)
    with usb.connect(0x0416, 0x5011, backend=backend) as printer:
        assert printer.out_ep == OUT_EP  # read from the descriptors, not escpos' 0x01
        assert usb.send(printer, LABEL) == len(LABEL)
        assert usb.send(printer, b"second") == 6
    assert backend.writes == [LABEL, b"second"]
    assert backend.opened >= 1 and backend.closed == backend.opened


def test_usb_printer_not_plugged_in_is_offline():
    backend = FakeUsbPrinterBackend(vendor_id=0x0416, product_id=0x5011)
    with pytest.raises(TransportError) as caught:
        with usb.connect(0x04B8, 0x0202, backend=backend):
            pass
    assert caught.value.kind == OFFLINE and "04b8:0202" in caught.value.detail
    assert backend.writes == []


def test_usb_write_error_is_a_dropped_document():
    backend = FakeUsbPrinterBackend(fail_on_write=2)
    with usb.connect(0x0416, 0x5011, backend=backend) as printer:
        usb.send(printer, b"first")
        with pytest.raises(TransportError) as caught:
            usb.send(printer, b"second")
    assert caught.value.kind == DROPPED and caught.value.detail == "Pipe error"
    assert backend.writes == [b"first"]


def test_usb_backend_is_the_module_setting_by_default(monkeypatch):
    backend = FakeUsbPrinterBackend()
    monkeypatch.setattr(usb, "BACKEND", backend)
    with usb.connect(0x0416, 0x5011) as printer:
        usb.send(printer, LABEL)
    assert backend.received == LABEL
