"""The outbox inside another app's statement, and the one JSON form of an event's data.

A hot path that commits with one raw SQL statement (the waybill engine's commit: the
reservations, the waybills, the order's mark and history in one statement that commits on
its own) writes its events in that same statement, with :func:`insert_cte`: a CTE that
inserts the events passed as parameters for the rows the statement really inserted (keyed,
e.g. by ``waybill_no``), so an event is never written for a row that was not. The events
table stays this app's: the caller only places the fragment and passes
:meth:`Batch.params`.

:func:`api_json` is the data of every event: the object as the REST API's JSON renders it
(DRF's encoder: times in ISO-8601, decimals as the API writes them), so a webhook's body
and the API answer for the same object read the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from rest_framework.utils.encoders import JSONEncoder

from events.services.outbox import kick, new_msg_id, subscriptions_seen, wanted
from events.types import event_type


def api_json(data) -> dict:
    """``data`` (a serializer's output, a hand-built representation) as the API's JSON."""
    return json.loads(json_text(data))


def json_text(data) -> str:
    return json.dumps(data, cls=JSONEncoder, ensure_ascii=False)


def insert_cte(alias: str, *, source: str, key: str) -> str:
    """A CTE ``alias`` inserting the events of :meth:`Batch.params` whose key is among
    ``key`` of ``source`` (another CTE of the statement, e.g. the rows it inserted). Seven
    parameters, in :meth:`Batch.params`'s order; an empty batch inserts nothing."""
    # alias, source and key are the caller's constants; every value is a parameter
    return f"""{alias} AS (
    INSERT INTO events_event (msg_id, shop_id, type, at, data, link)
    SELECT x.msg_id, x.shop_id, x.type, %s::timestamptz, x.data::jsonb, x.link
      FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[])
           AS x(msg_id, shop_id, type, data, link, key)
     WHERE x.key IN (SELECT {key} FROM {source})
)"""  # nosec B608


#: a column for another app's hot statement: what the shop's enabled endpoints subscribe
#: to, read with the rows the statement reads (one parameter: the shop's id); hand the
#: value to :func:`listening_seen`, and the emitters ask no cache for a moment
LISTENING_SQL = """(SELECT coalesce(jsonb_agg(e.event_types), '[]'::jsonb)
     FROM events_endpoint e WHERE e.shop_id = %s::bigint AND e.is_enabled)"""


def listening_seen(shop_id: int, value: str | list) -> None:
    """:data:`LISTENING_SQL`'s value, as its statement read it (Django's connection hands
    jsonb over as text)."""
    if isinstance(value, str):
        value = json.loads(value)
    types: set[str] = set()
    for wanted_types in value:
        types.update(wanted_types or ["*"])
    subscriptions_seen(shop_id, frozenset(types))


@dataclass
class Batch:
    """Events waiting for the statement that writes them (:func:`insert_cte`)."""

    at: datetime
    rows: list[tuple[str, int, str, str, str, str]] = field(default_factory=list)

    def add(self, shop_id: int, type_name: str, data: dict, *, link: str = "", key: str) -> None:
        """One event, written when the statement's ``key`` row is (the caller has asked
        :func:`wanted` first: building ``data`` costs)."""
        event_type(type_name)
        self.rows.append((new_msg_id(), shop_id, type_name, json_text(data), link or "", key))

    def params(self) -> list:
        columns = [list(c) for c in zip(*self.rows, strict=True)] or [[]] * 6
        return [self.at, *columns]

    def __bool__(self) -> bool:
        return bool(self.rows)

    def written(self) -> None:
        """The statement ran: ask a worker to dispatch once it commits."""
        if not self.rows:
            return
        if connection.in_atomic_block:
            transaction.on_commit(kick)
        else:
            kick()


def batch_for(
    type_name: str, at: datetime, shop_ids: Iterable[int]
) -> tuple[Batch, frozenset[int]]:
    """An empty batch and the shops among ``shop_ids`` that listen to ``type_name``."""
    return Batch(at), frozenset(s for s in set(shop_ids) if wanted(s, type_name))
