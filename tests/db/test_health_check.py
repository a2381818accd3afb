"""CONN_HEALTH_CHECKS without `SELECT 1` on a healthy connection (axero_idp/db/base.py):
a dropped connection is still replaced before the request's first query."""

from __future__ import annotations

import select

import psycopg2
import pytest
from django.core.signals import request_started
from django.db import connection
from django.db.backends.postgresql.base import DatabaseWrapper as DjangoPostgres

# The connection must sit outside a transaction, as it does between two requests.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _young_connection():
    """A connection opened now: an older one may have outlived CONN_MAX_AGE, and the
    request start would close it before any health check."""
    connection.close()


def _last_statement_of(pid: int) -> str:
    """What the server says this backend ran last (pg_stat_activity), asked on a
    connection of its own: a server-side record, not the client's."""
    params = {
        k: v
        for k, v in connection.get_connection_params().items()
        if k not in ("connection_factory", "cursor_factory")
    }
    with psycopg2.connect(**params) as other, other.cursor() as cursor:
        cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
        [(query,)] = cursor.fetchall()
    other.close()
    return str(query)


def _terminate(pid: int) -> None:
    params = {
        k: v
        for k, v in connection.get_connection_params().items()
        if k not in ("connection_factory", "cursor_factory")
    }
    with psycopg2.connect(**params) as other, other.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    other.close()


def _start_request() -> None:
    """What Django does when a request starts: arm the health check of each connection
    (it runs before that request's first query)."""
    request_started.send(sender=None)


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def test_a_healthy_connection_is_checked_without_sending_a_statement():
    pid = _backend_pid()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'before the check'")

    _start_request()
    connection.close_if_health_check_failed()

    assert connection.health_check_done
    assert connection.connection.info.backend_pid == pid
    assert _last_statement_of(pid) == "SELECT 'before the check'"
    # Django's own check, for contrast: the server sees its round trip.
    assert DjangoPostgres.is_usable(connection)
    assert _last_statement_of(pid) == "SELECT 1"


def test_a_terminated_connection_is_replaced_before_the_first_query_without_an_error():
    pid = _backend_pid()
    _terminate(pid)
    # The server's FATAL and close reach the idle socket: wait for them, as the next
    # request would (unread: nothing has touched the connection since).
    readable, _, _ = select.select([connection.connection.fileno()], [], [], 5)
    assert readable

    _start_request()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 + 1")
        assert cursor.fetchone() == (2,)

    assert connection.connection.info.backend_pid != pid


def test_a_connection_left_inside_a_transaction_gets_the_real_check():
    pid = _backend_pid()
    connection.set_autocommit(False)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 'in a transaction'")
        connection.health_check_done = False
        connection.close_if_health_check_failed()
        assert _last_statement_of(pid) == "SELECT 1"
    finally:
        connection.rollback()
        connection.set_autocommit(True)
