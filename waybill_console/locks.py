"""PostgreSQL advisory locks so that a duplicate beat tick does nothing."""

from __future__ import annotations

import zlib
from contextlib import contextmanager

from django.db import connection


@contextmanager
def advisory_lock(name: str):
    """Yields True if this process holds the lock for ``name``, False if another one does."""
    key = zlib.crc32(name.encode())
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s)", [key])
        got = cur.fetchone()[0]
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", [key])
