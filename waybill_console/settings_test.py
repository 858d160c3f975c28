"""Settings for the test suite: the same settings, with the test Redis databases."""

import os

os.environ.setdefault("WBC_TESTING", "1")
os.environ.setdefault("REDIS_DB_BASE", "10")  # broker 10, results 11, cache 12

from waybill_console.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Parallel test runs on one machine (a second checkout, a helper) pick their own database.
DATABASES["default"]["TEST"] = {  # noqa: F405
    "NAME": "test_waybill_console" + os.environ.get("WBC_TEST_DB_SUFFIX", "")
}
