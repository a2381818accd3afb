"""Django's PostgreSQL backend (psycopg2), with a cheaper CONN_HEALTH_CHECKS.

Django checks a persistent connection at the first query of every request with a
`SELECT 1`: a round trip that cost every SCIM create and SAML login ~0.15 ms of
PostgreSQL CPU and ~0.04 ms of ours, one of ten round trips of a create. A server
that drops a connection (pg_terminate_backend, a restart, idle_session_timeout)
sends its FATAL message and closes the socket, so between requests a dropped
connection's socket is readable; a healthy one that finished its last query is
silent. So a connection checked less than QUIET_WITHIN seconds ago whose socket is
silent is taken as healthy without a round trip. A connection idle for longer, or
with anything on its socket, gets Django's `SELECT 1` as before: a peer that
vanished without a word (a host lost in a failover) shows nothing on the socket,
and only a connection that idled through the failover can meet it on its first
statement, so idle ones are still probed. A connection in steady use that meets a
dead peer fails its query, and Django closes it at the end of that request
(errors_occurred), as it always has.
"""

from __future__ import annotations

import select
import time

from django.db.backends.postgresql import base

# A connection asked no more than this long ago skips the SELECT 1 if its socket is
# silent. Under load a connection is asked every few milliseconds; the probe is kept
# for connections that were idle long enough to have missed a failover.
QUIET_WITHIN = 1.0


class DatabaseWrapper(base.DatabaseWrapper):
    # Django's (set in connect(); not in the type stubs).
    health_check_enabled: bool
    health_check_done: bool
    _checked_at = 0.0

    def connect(self) -> None:
        super().connect()
        self._checked_at = time.monotonic()

    def close_if_health_check_failed(self) -> None:
        due = (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and not self.pool
        )
        if not due:
            return
        if time.monotonic() - self._checked_at < QUIET_WITHIN and self._socket_silent():
            self.health_check_done = True
        else:
            super().close_if_health_check_failed()
        self._checked_at = time.monotonic()

    def _socket_silent(self) -> bool:
        """Nothing to read and no hang-up on the connection's socket, without waiting.
        (poll, not select: a busy process's descriptors may be above select's 1024.)"""
        try:
            poller = select.poll()
            poller.register(self.connection.fileno(), select.POLLIN | select.POLLPRI)
            return not poller.poll(0)
        except (OSError, ValueError, AttributeError):
            return False
