"""Hot-path reads without the ORM's query compilation: a fixed SQL statement, and model
instances built from its row exactly as the ORM builds them (``Model.from_db`` plus each
field's database converters: decryption wrappers, JSON, arrays…).

Use only where a profile shows the compiler costing more than the query itself (token
authentication, the allocation's subscription and order). The SQL lists the columns
with :func:`columns`, so a new model field is picked up without editing the statement.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from itertools import count

from django.db import connection
from django.db import models as m
from django.db.models import Model
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init


@lru_cache(maxsize=64)
def _plan(model: type[Model]) -> tuple[list[str], list[tuple[int, list]], int]:
    """The attribute names, the fields that have database converters (by position) and
    the primary key's position."""
    fields = list(model._meta.concrete_fields)
    names = [f.attname for f in fields]
    converters = []
    for i, f in enumerate(fields):
        col = f.get_col(model._meta.db_table)
        convs = connection.ops.get_db_converters(col) + f.get_db_converters(connection)
        if convs:
            converters.append((i, convs))
    pk_index = next(i for i, f in enumerate(fields) if f.primary_key)
    return names, converters, pk_index


def columns(model: type[Model], alias: str) -> str:
    """``alias.col1, alias.col2, …`` for every concrete field, in model order."""
    return ", ".join(f"{alias}.{f.column}" for f in model._meta.concrete_fields)


def width(model: type[Model]) -> int:
    return len(model._meta.concrete_fields)


def build(model: type[Model], values) -> Model | None:
    """A model instance from a slice of a row (None when the primary key is NULL, as
    after a LEFT JOIN with no match)."""
    names, converters, pk_index = _plan(model)
    if len(values) != len(names):
        raise ValueError(f"{model.__name__}: {len(values)} values for {len(names)} fields")
    if values[pk_index] is None:
        return None
    out = list(values)
    for i, convs in converters:
        value = out[i]
        for convert in convs:
            value = convert(value, None, connection)
        out[i] = value
    if pre_init.receivers or post_init.receivers:  # none in this project: see below
        return model.from_db(connection.alias, names, out)
    # what from_db makes, without Model.__init__'s generic argument handling (a third of
    # the cost of a row of the hot path); only while no instance signal has a receiver
    obj = model.__new__(model)
    obj.__dict__.update(zip(names, out, strict=True))
    state = obj._state = ModelState()
    state.adding, state.db = False, connection.alias
    return obj


def new(model: type[Model], values: dict, related: dict | None = None) -> Model:
    """An unsaved instance, as ``model(**values, **related)`` makes it: ``values`` by
    attribute name (every other field gets its default), ``related`` objects by foreign
    key name (their key set, the object cached: reading it costs no query). Built
    without Model.__init__'s generic keyword handling, like :func:`build`, while no
    instance signal has a receiver."""
    related = related or {}
    if pre_init.receivers or post_init.receivers:
        return model(**values, **related)
    obj = model.__new__(model)
    attrs = obj.__dict__
    for field in model._meta.concrete_fields:
        name = field.attname
        attrs[name] = values[name] if name in values else field.get_default()
    obj._state = ModelState()
    for name, value in related.items():
        field = model._meta.get_field(name)
        attrs[field.attname] = getattr(value, field.target_field.attname)
        field.set_cached_value(obj, value)
    return obj


def split(row, models: list[type[Model]]) -> tuple[list, int]:
    """Build one instance per model from consecutive slices of ``row``; returns the
    instances and where the remaining (extra) columns start."""
    at, objects = 0, []
    for model in models:
        n = width(model)
        objects.append(build(model, row[at : at + n]))
        at += n
    return objects, at


# --- values to write ----------------------------------------------------------------------

#: field classes (exactly these, not subclasses: an encrypted text field is a TextField)
#: whose conversion for the database returns a value of this type unchanged
_PLAIN = {
    m.CharField: str,
    m.TextField: str,
    m.BooleanField: bool,
    m.IntegerField: int,
    m.SmallIntegerField: int,
    m.BigIntegerField: int,
    m.PositiveIntegerField: int,
    m.PositiveSmallIntegerField: int,
    m.PositiveBigIntegerField: int,
    m.DateTimeField: datetime,
}
_INTEGER_KEYS = (m.AutoField, m.BigAutoField, m.SmallAutoField)


@lru_cache(maxsize=64)
def _plain_types(model: type[Model], names: tuple[str, ...]) -> list[tuple]:
    out = []
    for name in names:
        field = model._meta.get_field(name)
        kind = _PLAIN.get(type(field))
        if type(field) is m.ForeignKey and type(field.target_field) in _INTEGER_KEYS:
            kind = int
        out.append((field, kind))
    return out


def db_values(instance: Model, names: tuple[str, ...]) -> list:
    """What ``field.get_db_prep_save(value, connection)`` gives for each named field (its
    ``attname``) of ``instance``, in order. The common cases skip the field's conversion
    chain, which returns them unchanged anyway: None where the column is nullable or a
    plain one, a ``str`` for a char or text column, an ``int`` for an integer column or
    an integer foreign key, a ``bool`` for a boolean, an aware ``datetime``. Anything
    else (JSON, ciphertext, naive datetimes…) goes through the field."""
    out = []
    for field, kind in _plain_types(type(instance), names):
        value = getattr(instance, field.attname)
        if kind is not None and (
            value is None
            or (type(value) is kind and (kind is not datetime or value.tzinfo is not None))
        ):
            out.append(value)
        else:
            out.append(field.get_db_prep_save(value, connection))
    return out


# --- server-side prepared statements ---------------------------------------------------------

_PLACEHOLDER = re.compile(r"%s")


def _prepared_names(db) -> set[str]:
    """The statements prepared on the database session of ``db`` (a Django connection);
    a reconnect starts over."""
    raw = db.connection
    entry = getattr(db, "_wbc_prepared", None)
    if entry is None or entry[0] is not raw:
        entry = (raw, set())
        db._wbc_prepared = entry
    return entry[1]


_GENERIC_PLANS = "plan_cache_mode"  # marks a session whose plan cache mode is set


def execute_prepared(cursor, name: str, sql: str, params: list) -> None:
    """Run ``sql`` (``%s`` placeholders) as a prepared statement of this session: planned
    once per connection instead of on every call (the hot path's joins and CTEs cost
    more to plan than to run).

    The session keeps one generic plan per statement: in PostgreSQL's default ``auto``
    mode these statements were planned again on every call (their generic plan looks
    dearer to it than a custom one), which doubled their cost. They are lookups by
    primary or unique key, for which the generic plan is the custom one. Only prepared
    statements have generic plans (psycopg2 sends everything else as plain text), so the
    setting changes nothing else. A ``SET`` inside a transaction would be undone by its
    rollback: it is made outside one."""
    db = cursor.db  # the connection itself, not the thread-local proxy
    names = _prepared_names(db)
    if _GENERIC_PLANS not in names and not db.in_atomic_block:
        cursor.execute("SET plan_cache_mode = force_generic_plan")
        names.add(_GENERIC_PLANS)
    _prepare(cursor, names, name, sql)
    placeholders = ", ".join(["%s"] * len(params))
    cursor.execute(f"EXECUTE {name} ({placeholders})", params)


def prepare_sql(name: str, sql: str) -> str:
    """``PREPARE name AS …`` for ``sql``, its ``%s`` placeholders numbered ``$1, $2…``."""
    counter = count(1)
    return f"PREPARE {name} AS {_PLACEHOLDER.sub(lambda _m: f'${next(counter)}', sql)}"


def _prepare(cursor, names: set[str], name: str, sql: str) -> None:
    if name not in names:
        cursor.execute(prepare_sql(name, sql))
        names.add(name)


def execute_prepared_together(cursor, statements: list[tuple[str, str, list]]) -> None:
    """Run prepared statements ``(name, sql, params)`` in one round trip and one
    transaction: sent as one query text outside a transaction, PostgreSQL runs them in
    order as a single implicit transaction (an error in any undoes all of them). The
    cursor holds the last statement's result. Only outside a transaction (raises
    otherwise: inside one, each statement would need its own savepoint)."""
    db = cursor.db
    if db.in_atomic_block:
        raise RuntimeError("execute_prepared_together runs outside a transaction only")
    names = _prepared_names(db)
    if _GENERIC_PLANS not in names:
        cursor.execute("SET plan_cache_mode = force_generic_plan")
        names.add(_GENERIC_PLANS)
    texts, values = [], []
    for name, sql, params in statements:
        _prepare(cursor, names, name, sql)
        texts.append(f"EXECUTE {name} ({', '.join(['%s'] * len(params))})")
        values += params
    cursor.execute("; ".join(texts), values)
