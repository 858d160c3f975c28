"""Django's PostgreSQL backend with a health check that costs no round trip.

With ``CONN_HEALTH_CHECKS`` Django tests a persistent connection before a request first
uses it by sending ``SELECT 1``: one round trip to the server on every request, though
the connection is almost always fine. A connection the server has closed (a restart, an
administrator's ``pg_terminate_backend``, an idle timeout) shows on its socket first:
PostgreSQL sends its FATAL message and closes, so the idle socket turns readable or
hung up. Here the socket is polled without waiting; only when it has something to say
(or psycopg2 already knows the connection is broken) does Django's ``SELECT 1`` decide.
An idle connection has nothing pending: this product does not ``LISTEN``.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base

_EVENTS = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP
if hasattr(select, "POLLRDHUP"):
    _EVENTS |= select.POLLRDHUP


def socket_quiet(fd: int) -> bool:
    """True when nothing is waiting on the idle connection's socket (no EOF, no error)."""
    poller = select.poll()
    poller.register(fd, _EVENTS)
    return not poller.poll(0)


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self):
        conn = self.connection
        if conn is None or conn.closed:
            return False
        try:
            quiet = socket_quiet(conn.fileno())
        except (OSError, ValueError, self.Database.Error):
            return False
        if quiet:
            return True
        return super().is_usable()  # the server said something: SELECT 1 decides
