"""Hot-path reads without the ORM's query compilation: a fixed SQL statement, and model
instances built from its row exactly as the ORM builds them (``Model.from_db`` plus each
field's database converters: decryption wrappers, JSON, arrays…).

Use only where a profile shows the compiler costing more than the query itself (token
authentication, the allocation's subscription and order). The SQL lists the columns
with :func:`columns`, so a new model field is picked up without editing the statement.
"""

from __future__ import annotations

import re
from functools import lru_cache

from django.db import connection
from django.db.models import Model


@lru_cache(maxsize=64)
def _plan(model: type[Model]) -> tuple[list[str], list[list]]:
    fields = list(model._meta.concrete_fields)
    names = [f.attname for f in fields]
    converters = []
    for f in fields:
        col = f.get_col(model._meta.db_table)
        converters.append(connection.ops.get_db_converters(col) + f.get_db_converters(connection))
    return names, converters


def columns(model: type[Model], alias: str) -> str:
    """``alias.col1, alias.col2, …`` for every concrete field, in model order."""
    return ", ".join(f"{alias}.{f.column}" for f in model._meta.concrete_fields)


def width(model: type[Model]) -> int:
    return len(model._meta.concrete_fields)


def build(model: type[Model], values) -> Model | None:
    """A model instance from a slice of a row (None when the primary key is NULL, as
    after a LEFT JOIN with no match)."""
    names, converters = _plan(model)
    out = []
    for value, convs in zip(values, converters, strict=True):
        for convert in convs:
            value = convert(value, None, connection)
        out.append(value)
    pk_index = next(i for i, f in enumerate(model._meta.concrete_fields) if f.primary_key)
    if out[pk_index] is None:
        return None
    return model.from_db(connection.alias, names, out)


def split(row, models: list[type[Model]]) -> tuple[list, int]:
    """Build one instance per model from consecutive slices of ``row``; returns the
    instances and where the remaining (extra) columns start."""
    at, objects = 0, []
    for model in models:
        n = width(model)
        objects.append(build(model, row[at : at + n]))
        at += n
    return objects, at


# --- server-side prepared statements ---------------------------------------------------------

_PLACEHOLDER = re.compile(r"%s")


def _prepared_names() -> set[str]:
    """The statements prepared on the current database session (a reconnect starts over)."""
    raw = connection.connection
    entry = getattr(connection, "_wbc_prepared", None)
    if entry is None or entry[0] is not raw:
        entry = (raw, set())
        connection._wbc_prepared = entry
    return entry[1]


def execute_prepared(cursor, name: str, sql: str, params: list) -> None:
    """Run ``sql`` (``%s`` placeholders) as a prepared statement of this session: planned
    once per connection instead of on every call (the hot path's joins and CTEs cost
    more to plan than to run)."""
    names = _prepared_names()
    if name not in names:
        counter = iter(range(1, len(params) + 1))
        server_sql = _PLACEHOLDER.sub(lambda _m: f"${next(counter)}", sql)
        cursor.execute(f"PREPARE {name} AS {server_sql}")
        names.add(name)
    placeholders = ", ".join(["%s"] * len(params))
    cursor.execute(f"EXECUTE {name} ({placeholders})", params)
