"""psycopg2 connection and cursor that carry statements in front of the next one.

Two kinds of statement ride instead of taking a round trip of their own:

- write-behind statements (axero_idp.db.write_behind): rendered (cursor.mogrify) and
  kept on the connection;
- the transaction's BEGIN: psycopg2 stays in autocommit mode for good, and the
  connection opens Django's transactions itself, with the first statement.

They are sent as one simple-query message ("BEGIN;\\nqueued;\\nnext"): PostgreSQL runs
them in order and stops at the first error, and psycopg2 returns the last statement's
result, so the caller of the next statement sees exactly what it would have seen.
COMMIT takes the queue with it ("queued;\\nCOMMIT"). What cannot carry them (a named
cursor's DECLARE, executemany, callproc, COPY) sends them first.
"""

from __future__ import annotations

from typing import Any

import psycopg2.extensions
from psycopg2.sql import Composable

_SEPARATOR = b";\n"
BEGIN = b"BEGIN"
COMMIT = b"COMMIT"
ROLLBACK = b"ROLLBACK"


class Connection(psycopg2.extensions.connection):
    """A psycopg2 connection (always in psycopg2's autocommit mode) that runs Django's
    transactions and holds the statements queued behind the next one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.behind: list[bytes] = []
        # Django turned autocommit off: BEGIN rides with the next statement.
        self.begin_pending = False
        # BEGIN went out; COMMIT or ROLLBACK has not (or failed).
        self.in_transaction = False

    def set_transaction_mode(self, *, autocommit: bool) -> None:
        """Django's set_autocommit: a transaction starts with the next statement."""
        if self.in_transaction or self.behind:
            raise psycopg2.ProgrammingError("set_session cannot be used inside a transaction")
        self.begin_pending = not autocommit

    def queue_behind(self, statement: bytes) -> None:
        self.behind.append(statement.rstrip().rstrip(b";"))

    def take_riders(self) -> list[bytes]:
        """The statements to send in front of the next one (BEGIN first), and no more."""
        riders = self.behind
        self.behind = []
        if self.begin_pending:
            self.begin_pending = False
            self.in_transaction = True
            riders.insert(0, BEGIN)
        return riders

    def flush_riders(self) -> None:
        """Send BEGIN and the queue now, in a round trip of their own."""
        if self.behind or self.begin_pending:
            with self.cursor() as cursor:
                cursor.execute(_SEPARATOR.join(self.take_riders()))

    def end_script(self, word: bytes) -> bytes | None:
        """What ends the transaction with COMMIT or ROLLBACK: the queue and the word
        (nothing at all if no statement started it). The queue is taken either way."""
        if word == ROLLBACK:
            self.behind = []
        if not self.behind:
            self.begin_pending = False  # nothing opened the transaction: nothing to end
        riders = self.take_riders()
        if not self.in_transaction:
            return None
        return _SEPARATOR.join([*riders, word])

    def send_end(self, script: bytes) -> None:
        with self.cursor() as cursor:
            cursor.execute(script)
        self.in_transaction = False

    def commit(self) -> None:
        script = self.end_script(COMMIT)
        if script is not None:
            self.send_end(script)

    def rollback(self) -> None:
        script = self.end_script(ROLLBACK)
        if script is not None:
            self.send_end(script)

    def close(self) -> None:
        self.behind = []
        self.begin_pending = self.in_transaction = False
        super().close()


class Cursor(psycopg2.extensions.cursor):
    """Sends its connection's riders (BEGIN, queued statements) in front of its own."""

    connection: Connection

    def execute(self, query: Any, vars: Any = None) -> None:
        connection = self.connection
        if connection.behind or connection.begin_pending:
            if self.name is None:
                query = self._riders_and(query, formatted=vars is not None)
            else:
                # A named cursor wraps its query in DECLARE, which takes one statement.
                connection.flush_riders()
        super().execute(query, vars)

    def _riders_and(self, query: Any, *, formatted: bool) -> bytes:
        if isinstance(query, Composable):
            query = query.as_string(self)
        if isinstance(query, str):
            query = query.encode(psycopg2.extensions.encodings[self.connection.encoding])
        script = _SEPARATOR.join(self.connection.take_riders()) + _SEPARATOR
        # psycopg2 %-formats a query that has parameters: the queued text (already
        # rendered, its literals may hold a %) must come out of that unchanged.
        if formatted:
            script = script.replace(b"%", b"%%")
        return bytes(script + query)

    def executemany(self, query: Any, vars_list: Any) -> None:
        self.connection.flush_riders()
        super().executemany(query, vars_list)

    def callproc(self, procname: Any, parameters: Any = None) -> Any:
        self.connection.flush_riders()
        return super().callproc(procname, parameters)

    def copy_expert(self, sql: Any, file: Any, size: int = 8192) -> None:
        self.connection.flush_riders()
        super().copy_expert(sql, file, size)

    def copy_from(self, *args: Any, **kwargs: Any) -> None:
        self.connection.flush_riders()
        super().copy_from(*args, **kwargs)

    def copy_to(self, *args: Any, **kwargs: Any) -> None:
        self.connection.flush_riders()
        super().copy_to(*args, **kwargs)
