"""wbc-print-agent: takes a shop's print jobs from Waybill Console and sends them to the
printers of the packing PC it runs on (network, USB, or the Windows spooler).

Pure Python, standard library only; ``pyusb`` for USB printers and ``pywin32`` for the
Windows spooler are optional and imported only when a printer needs them.
"""

__version__ = "0.1.0"
