"""Fault injection: the app as real processes against servers these tests start and stop."""

from __future__ import annotations

import pytest

from tests.faults.servers import app, fault_root, postgres, redis_server  # noqa: F401


@pytest.fixture(autouse=True)
def _clean_cache():
    """The suite-wide fixture clears the shared test Redis; these tests never use it."""
    yield
