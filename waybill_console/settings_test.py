"""Settings for the test suite: the same settings, with the test Redis databases."""

import os

os.environ.setdefault("WBC_TESTING", "1")
os.environ.setdefault("REDIS_DB_BASE", "10")  # broker 10, results 11, cache 12
# pytest-xdist's workers (gw0, gw1…): each its own Redis range, 16 apart (pytest-django
# gives each its own test database, test_…_gw0); set in the environment, so the worker and
# server processes a test starts take the same
_XDIST = os.environ.get("PYTEST_XDIST_WORKER", "")
if _XDIST.startswith("gw") and "WBC_XDIST_BASE" not in os.environ:
    os.environ["WBC_XDIST_BASE"] = os.environ["REDIS_DB_BASE"]
    os.environ["REDIS_DB_BASE"] = str(int(os.environ["REDIS_DB_BASE"]) + 16 * int(_XDIST[2:]))
    if int(os.environ["REDIS_DB_BASE"]) + 2 > 63:  # the private Redis has 64 databases
        raise RuntimeError(
            f"test worker {_XDIST}: Redis databases {os.environ['REDIS_DB_BASE']}+ are out of "
            "range; lower REDIS_DB_BASE or TEST_WORKERS"
        )

from waybill_console.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Parallel test runs on one machine (a second checkout, a helper) pick their own database.
DATABASES["default"]["TEST"] = {  # noqa: F405
    "NAME": "test_waybill_console" + os.environ.get("WBC_TEST_DB_SUFFIX", "")
}

# The stand-in network printers (tests/printing/doubles.py) listen on 127.0.0.1 at a port
# the system picks: the tests allow loopback and the unprivileged ports on top of the
# defaults (tests/printing/test_printer_address.py checks the defaults themselves).
PRINTER_ALLOWED_NETWORKS = [*PRINTER_ALLOWED_NETWORKS, "127.0.0.0/8"]  # noqa: F405
PRINTER_ALLOWED_PORTS = [*PRINTER_ALLOWED_PORTS, "1024-65535"]  # noqa: F405
