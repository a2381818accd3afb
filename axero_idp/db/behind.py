"""psycopg2 connection and cursor that carry write-behind statements.

A write-behind statement is rendered (cursor.mogrify) and kept on the connection instead
of being sent; it rides in front of the next statement sent on that connection, as one
simple-query message ("queued;\nnext"), so it costs no round trip of its own. PostgreSQL
runs them in order and psycopg2 returns the last statement's result, so the caller of
the next statement sees exactly what it would have seen. What cannot carry them (a
named cursor's DECLARE, executemany, callproc, COPY, COMMIT) sends them first.
"""

from __future__ import annotations

from typing import Any

import psycopg2.extensions
from psycopg2.sql import Composable

_SEPARATOR = b";\n"


class Connection(psycopg2.extensions.connection):
    """A psycopg2 connection holding the statements queued behind the next one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.behind: list[bytes] = []

    def queue_behind(self, statement: bytes) -> None:
        self.behind.append(statement.rstrip().rstrip(b";"))

    def take_behind(self) -> bytes:
        """The queued statements as one script, and an empty queue."""
        script = _SEPARATOR.join(self.behind)
        self.behind = []
        return script

    def flush_behind(self) -> None:
        """Send the queued statements now, in a round trip of their own."""
        if self.behind:
            with self.cursor() as cursor:
                cursor.execute(self.take_behind())

    def commit(self) -> None:
        # DatabaseWrapper._commit flushes through Django's cursor (so query logging
        # sees the round trip); this is for a commit that does not go through it.
        self.flush_behind()
        super().commit()

    def rollback(self) -> None:
        self.behind = []
        super().rollback()

    def close(self) -> None:
        self.behind = []
        super().close()


class Cursor(psycopg2.extensions.cursor):
    """Sends its connection's queued statements in front of its own."""

    connection: Connection

    def execute(self, query: Any, vars: Any = None) -> None:
        connection = self.connection
        if connection.behind:
            if self.name is None:
                query = self._behind_and(query, formatted=vars is not None)
            else:
                # A named cursor wraps its query in DECLARE, which takes one statement.
                connection.flush_behind()
        super().execute(query, vars)

    def _behind_and(self, query: Any, *, formatted: bool) -> bytes:
        if isinstance(query, Composable):
            query = query.as_string(self)
        if isinstance(query, str):
            query = query.encode(psycopg2.extensions.encodings[self.connection.encoding])
        script = self.connection.take_behind() + _SEPARATOR
        # psycopg2 %-formats a query that has parameters: the queued text (already
        # rendered, its literals may hold a %) must come out of that unchanged.
        if formatted:
            script = script.replace(b"%", b"%%")
        return bytes(script + query)

    def executemany(self, query: Any, vars_list: Any) -> None:
        self.connection.flush_behind()
        super().executemany(query, vars_list)

    def callproc(self, procname: Any, parameters: Any = None) -> Any:
        self.connection.flush_behind()
        return super().callproc(procname, parameters)

    def copy_expert(self, sql: Any, file: Any, size: int = 8192) -> None:
        self.connection.flush_behind()
        super().copy_expert(sql, file, size)

    def copy_from(self, *args: Any, **kwargs: Any) -> None:
        self.connection.flush_behind()
        super().copy_from(*args, **kwargs)

    def copy_to(self, *args: Any, **kwargs: Any) -> None:
        self.connection.flush_behind()
        super().copy_to(*args, **kwargs)
