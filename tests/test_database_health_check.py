"""The persistent connection's health check (axero_idp.postgresql): no SELECT 1 on a
connection in steady use with a silent socket, the SELECT 1 after an idle spell, and a
connection the server dropped is replaced before the request's first query either way."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from django.db import connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from axero_idp.postgresql.base import QUIET_WITHIN, DatabaseWrapper

pytestmark = pytest.mark.django_db


@pytest.fixture
def own() -> Iterator[BaseDatabaseWrapper]:
    """A second connection to the test database, as a web process holds one."""
    wrapper = connections.create_connection("default")
    yield wrapper
    wrapper.close()


def _backend_pid(wrapper: BaseDatabaseWrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def _next_request(wrapper: BaseDatabaseWrapper) -> None:
    wrapper.close_if_unusable_or_obsolete()  # what request_started does


def _probes(wrapper: BaseDatabaseWrapper, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    answers: list[bool] = []
    is_usable = wrapper.is_usable

    def counted() -> bool:
        answers.append(is_usable())
        return answers[-1]

    monkeypatch.setattr(wrapper, "is_usable", counted)
    return answers


def test_the_project_uses_its_own_backend_with_health_checks_on():
    assert isinstance(connections["default"], DatabaseWrapper)
    assert connections["default"].settings_dict["CONN_HEALTH_CHECKS"] is True


def test_a_connection_in_steady_use_is_not_probed(own, monkeypatch):
    pid = _backend_pid(own)
    probes = _probes(own, monkeypatch)

    for _ in range(3):
        _next_request(own)
        assert _backend_pid(own) == pid

    assert probes == []


def test_a_connection_idle_for_longer_than_the_quiet_spell_is_probed(own, monkeypatch):
    pid = _backend_pid(own)
    probes = _probes(own, monkeypatch)
    _next_request(own)
    own._checked_at = time.monotonic() - QUIET_WITHIN - 0.1  # type: ignore[attr-defined]

    assert _backend_pid(own) == pid
    assert probes == [True]


def _terminate(pid: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        for _ in range(200):  # the backend exits within milliseconds
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.01)
    raise AssertionError(f"backend {pid} did not exit")


def test_a_connection_the_server_dropped_is_replaced_before_the_first_query(own, monkeypatch):
    pid = _backend_pid(own)
    probes = _probes(own, monkeypatch)
    _next_request(own)
    _terminate(pid)

    assert _backend_pid(own) != pid  # no error: replaced before the statement
    assert probes == [False]  # the socket spoke, so the SELECT 1 ran, and failed
