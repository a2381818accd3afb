"""Stamping the commit order: the feed and webhooks read events by `position`.

One sequencer at a time (a transaction-scoped advisory lock) gives every committed,
unstamped row the next positions, in id order. A row committed later is stamped by a
later run, so positions only grow in the order readers can see them: a cursor never
skips a row that committed late. The newest row is never pruned, so the top position
survives a quiet month.
"""

from __future__ import annotations

from typing import Final

from django.db import connection, transaction

from events.models import Event

TABLE: Final = Event._meta.db_table
# pg_advisory_xact_lock key: "events.sequence" (any constant no other code uses).
LOCK_KEY: Final = 0x65767473
BATCH: Final = 50_000

# One statement stamps the whole batch: the window numbers rows in id order on top of
# the highest position (a backward probe of the unique index).
_STAMP_SQL: Final = (
    f"WITH todo AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM {TABLE}"  # noqa: S608
    f" WHERE position IS NULL ORDER BY id LIMIT %s),"
    f" top AS (SELECT coalesce(max(position), 0) AS p FROM {TABLE})"
    f" UPDATE {TABLE} e SET position = top.p + todo.n FROM todo, top WHERE e.id = todo.id"
)


def events_stamp(*, wait: bool = True) -> int:
    """Stamp committed events with their position; returns how many. With wait=False
    (a feed read) a sequencer already at work is left to it."""
    stamped = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            lock = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
            cursor.execute(f"SELECT {lock}(%s)", [LOCK_KEY])
            if not wait and not cursor.fetchone()[0]:
                return stamped
            cursor.execute(_STAMP_SQL, [BATCH])
            count = cursor.rowcount
        stamped += count
        if count < BATCH:
            return stamped
