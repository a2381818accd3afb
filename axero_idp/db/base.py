"""PostgreSQL (psycopg2) as Django's backend, less the round trips a request does not
wait for: the health check answers from the socket when it can; BEGIN rides with a
transaction's first statement, write-behind statements (axero_idp.db.write_behind)
with the next one, and COMMIT with the last of them (behind.py).

settings.py names this module's package as the ENGINE of every DATABASE_URL.
"""

from __future__ import annotations

import select
from collections.abc import Sequence
from typing import Any, cast

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.postgresql import base
from django.db.backends.utils import debug_transaction
from psycopg2.extensions import TRANSACTION_STATUS_IDLE

from axero_idp.db.behind import COMMIT, ROLLBACK, Connection, Cursor

# Anything the server sent while nobody asked: a terminated backend's FATAL message, its
# EOF, a reset. POLLHUP and POLLERR are reported whether asked for or not.
_UNASKED = select.POLLIN | select.POLLPRI


def _socket_has_news(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, _UNASKED)
    return bool(poller.poll(0))


class DatabaseWrapper(base.DatabaseWrapper):
    connection: Connection | None

    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        params["connection_factory"] = Connection
        params["cursor_factory"] = Cursor
        return params

    def is_usable(self) -> bool:
        """CONN_HEALTH_CHECKS' check before a request's first query, without the round
        trip of Django's `SELECT 1` when the connection is plainly healthy: open, idle
        outside a transaction, and nothing unasked-for on its socket. A server that
        dropped the connection (a restart, pg_terminate_backend, a failover, an idle
        timeout) sends FATAL and closes, so its socket is readable: then, and in any
        other state, the real `SELECT 1` decides.

        What it cannot see is a silent loss of the path (a partition, a host gone
        without a FIN or RST). Django's `SELECT 1` does not see it either: it would
        wait on the dead socket exactly as the request's own first query now does, so
        nothing is lost. Neither fails fast there today: settings.py sets only
        DB_CONNECT_TIMEOUT (a new connection's attempt), no TCP keepalives or
        tcp_user_timeout, so such a query waits for the kernel's retransmission
        timeout.
        """
        connection = self.connection
        if connection is None or connection.closed:
            return False
        if connection.info.transaction_status == TRANSACTION_STATUS_IDLE and not (
            _socket_has_news(connection.fileno())
        ):
            return True
        return bool(super().is_usable())

    def write_behind(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Queue one statement to ride in front of the next one on this connection
        (or to be sent before COMMIT); outside a transaction, run it now. See
        axero_idp.db.write_behind for what may be queued."""
        if self.get_autocommit():
            with self.cursor() as cursor:
                cursor.execute(sql, params)
            return
        # The errors a statement run now would raise: a broken atomic block, a
        # connection that failed its health check.
        self.validate_no_broken_transaction()
        with self.cursor() as cursor:
            statement = cursor.mogrify(sql, params)
        assert self.connection is not None  # the cursor connected
        self.connection.queue_behind(statement)

    def get_new_connection(self, conn_params: dict[str, Any]) -> Connection:
        if "isolation_level" in self.settings_dict["OPTIONS"]:
            # psycopg2 would put it on its own BEGIN, which this backend never sends.
            raise ImproperlyConfigured("axero_idp.db opens transactions at the default level")
        return cast(Connection, super().get_new_connection(conn_params))

    def set_autocommit(
        self, autocommit: bool, force_begin_transaction_with_broken_autocommit: bool = False
    ) -> None:
        """Django's, less its query-log entry for a BEGIN: here BEGIN is no round trip
        of its own but rides with the transaction's first statement, whose logged text
        shows it."""
        self.validate_no_atomic_block()
        self.close_if_health_check_failed()
        self.ensure_connection()
        self._set_autocommit(autocommit)
        self.autocommit = autocommit
        if autocommit and self.run_commit_hooks_on_set_autocommit_on:
            self.run_and_clear_commit_hooks()
            self.run_commit_hooks_on_set_autocommit_on = False

    def _set_autocommit(self, autocommit: bool) -> None:
        """psycopg2 stays in its autocommit mode for good (its transactions would cost
        a round trip for BEGIN and one for COMMIT); the connection opens and ends
        Django's (behind.py). Django's server-side cursors therefore are WITH HOLD
        (create_cursor reads psycopg2's autocommit): the same inside a transaction,
        materialised only if still open at its COMMIT."""
        assert self.connection is not None
        with self.wrap_database_errors:
            if not self.connection.autocommit:
                self.connection.autocommit = True
            self.connection.set_transaction_mode(autocommit=autocommit)

    def _commit(self) -> None:
        self._end_transaction(COMMIT)

    def _rollback(self) -> None:
        self._end_transaction(ROLLBACK)

    def _end_transaction(self, word: bytes) -> None:
        """One round trip: the queued statements and COMMIT (or ROLLBACK alone); none
        if no statement opened the transaction."""
        connection = self.connection
        if connection is None:
            return
        script = connection.end_script(word)
        if script is None:
            return
        with debug_transaction(self, script.decode()), self.wrap_database_errors:
            connection.send_end(script)
