"""PostgreSQL (psycopg2) as Django's backend, less the round trips a request does not
wait for: the health check answers from the socket when it can, and write-behind
statements ride with the next one (axero_idp.db.write_behind, behind.py).

settings.py names this module's package as the ENGINE of every DATABASE_URL.
"""

from __future__ import annotations

import select
from collections.abc import Sequence
from typing import Any

from django.db.backends.postgresql import base
from psycopg2.extensions import TRANSACTION_STATUS_IDLE

from axero_idp.db.behind import Connection, Cursor

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

    def _commit(self) -> None:
        connection = self.connection
        if connection is not None and connection.behind:
            # One round trip before COMMIT, through Django's cursor so query logging
            # (and CaptureQueriesContext) counts it.
            with self.cursor() as cursor:
                cursor.execute(connection.take_behind().decode())
        super()._commit()  # type: ignore[misc]  # (missing from django-stubs)
