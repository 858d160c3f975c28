"""The connection health check that polls the socket instead of sending SELECT 1."""

import time

import pytest
from django.db import connection, connections
from django.db.backends.postgresql import base as django_postgresql

from waybill_console.db.postgresql.base import DatabaseWrapper

pytestmark = pytest.mark.django_db


def test_the_settings_use_this_backend():
    assert isinstance(connections["default"], DatabaseWrapper)


def _own_connection():
    wrapper = connections.create_connection("default")
    wrapper.ensure_connection()
    return wrapper


def test_a_healthy_connection_is_usable_without_a_round_trip(monkeypatch):
    wrapper = _own_connection()
    try:

        def no_round_trip(self):
            raise AssertionError("SELECT 1 sent for an idle, healthy connection")

        monkeypatch.setattr(django_postgresql.DatabaseWrapper, "is_usable", no_round_trip)
        assert wrapper.is_usable() is True
    finally:
        wrapper.close()


def test_a_connection_the_server_closed_is_not_usable():
    wrapper = _own_connection()
    try:
        pid = wrapper.connection.get_backend_pid()
        with connection.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", [pid])
        deadline = time.monotonic() + 5
        while wrapper.is_usable() and time.monotonic() < deadline:
            time.sleep(0.05)  # the server's FATAL message and close reach the socket
        assert wrapper.is_usable() is False
        wrapper.close_if_unusable_or_obsolete()  # what Django does at a request's start
        old = wrapper.connection
        with wrapper.cursor() as cur:  # health-checked, replaced: no error for the request
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
        assert wrapper.connection is not old
    finally:
        wrapper.close()


def test_a_closed_connection_is_not_usable():
    wrapper = _own_connection()
    wrapper.connection.close()
    assert wrapper.is_usable() is False
    wrapper.close()
