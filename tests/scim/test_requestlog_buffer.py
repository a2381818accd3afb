"""The request log through its Redis buffer (scim.requestlog_buffer), with the real Redis
and no worker: the tests drain it themselves."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from scim import requestlog, requestlog_buffer, tasks
from scim.models import ScimRequestLog
from scim.requestlog import BODY_LIMIT, request_log_buffer_drain, request_log_write
from scim.requestlog_buffer import buffer_length

pytestmark = pytest.mark.django_db

FIELDS = [f.name for f in ScimRequestLog._meta.fields if f.name != "id"]


@pytest.fixture
def queued_drains(monkeypatch) -> list[dict]:
    calls: list[dict] = []
    monkeypatch.setattr(tasks.request_log_drain, "apply_async", lambda **kw: calls.append(kw))
    return calls


@pytest.fixture
def buffered(settings, monkeypatch, queued_drains):
    """The buffer on, in a list of this test's own."""
    settings.SCIM_REQUEST_LOG_BUFFER = True
    monkeypatch.setattr(requestlog_buffer, "KEY", f"test-request-log-{uuid.uuid4().hex}")
    requestlog_buffer.drain.window_reset()
    backend = requestlog_buffer.cache_backend()
    client, key = (
        requestlog_buffer.cache_client(backend),
        backend.make_and_validate_key(requestlog_buffer.KEY),
    )
    yield
    client.delete(key)  # through the real Redis, whatever the test did to CACHES


def rows() -> list[dict]:
    return list(ScimRequestLog.objects.order_by("id").values(*FIELDS))


def test_a_request_buffers_its_row_and_queues_one_drain_and_the_drain_writes_it(
    buffered, queued_drains, scim
):
    with CaptureQueriesContext(connection) as request_queries:
        response = scim.post("/Users", {"userName": "buffered@example.com"})

    assert response.status_code == 201
    assert not ScimRequestLog.objects.exists()
    assert buffer_length() == 1
    assert queued_drains == [{"args": (), "countdown": requestlog_buffer.DRAIN_COUNTDOWN}]
    assert not [q for q in request_queries.captured_queries if "scim_scimrequestlog" in q["sql"]]

    assert tasks.request_log_drain() == 1
    entry = ScimRequestLog.objects.get()
    assert (entry.token_name, entry.method, entry.path, entry.status) == (
        "onelogin",
        "POST",
        "/scim/v2/Users",
        201,
    )
    assert json.loads(entry.request_body) == {"userName": "buffered@example.com"}
    assert entry.request_id == response["X-Request-ID"]
    assert buffer_length() == 0
    assert tasks.request_log_drain() == 0  # nothing twice


def test_a_buffered_request_runs_one_statement_less_than_a_direct_one(settings, buffered, scim):
    scim.post("/Users", {"userName": "warm@example.com"})  # caches, token use stamp
    counts = {}
    for buffer_on in (False, True):
        settings.SCIM_REQUEST_LOG_BUFFER = buffer_on
        with CaptureQueriesContext(connection) as queries:
            scim.get("/Users?count=1")
        counts[buffer_on] = len(queries.captured_queries)

    assert counts[True] == counts[False] - 1


def test_redaction_and_truncation_are_the_same_through_the_buffer(settings, buffered, scim):
    body = {
        "userName": "secret@example.com",
        "password": "hunter2-very-secret",
        "nested": {"Password": "also-secret", "note": "Bearer axscim_abcdef"},
        "title": "é ☃ 🙂 " + "x" * 20_000,
    }
    broken = b'{"userName": "x", "password": "unparsable-secret"'
    for buffer_on in (False, True):
        settings.SCIM_REQUEST_LOG_BUFFER = buffer_on
        scim.post("/Users", body)
        scim.post("/Users", raw=broken)
    request_log_buffer_drain()

    direct_big, direct_broken, buffered_big, buffered_broken = ScimRequestLog.objects.order_by("id")
    assert buffered_big.request_body == direct_big.request_body
    assert buffered_broken.request_body == direct_broken.request_body
    assert len(buffered_big.request_body) == BODY_LIMIT + len("…[truncated]")
    assert '"password": "[redacted]"' in buffered_big.request_body
    assert "also-secret" not in buffered_big.request_body
    assert "axscim_abcdef" not in buffered_big.request_body
    assert "é ☃ 🙂" in buffered_big.request_body
    assert '"password": [redacted]' in buffered_broken.request_body


def test_the_drain_writes_one_insert_per_batch_in_request_order_with_request_times(
    buffered, monkeypatch
):
    start = dt.datetime(2026, 3, 2, 9, 14, 0, 123456, tzinfo=dt.UTC)
    times = iter(start + dt.timedelta(seconds=n, microseconds=n) for n in range(5))
    monkeypatch.setattr(requestlog.timezone, "now", lambda: next(times))
    for n in range(5):
        request_log_write(
            token_name="onelogin", method="GET", path=f"/scim/v2/Users?n={n}", status=200,
            duration_ms=n, request_id=f"req-{n}", ignored_attributes=["b", "a", "b"],
        )  # fmt: skip

    with CaptureQueriesContext(connection) as queries:
        assert request_log_buffer_drain(batch=2) == 5

    inserts = [q["sql"] for q in queries.captured_queries if "INSERT" in q["sql"]]
    assert len(inserts) == 3  # 2 + 2 + 1
    assert len(queries.captured_queries) == 3
    written = rows()
    assert [r["path"] for r in written] == [f"/scim/v2/Users?n={n}" for n in range(5)]
    assert [r["created_at"] for r in written] == [
        start + dt.timedelta(seconds=n, microseconds=n) for n in range(5)
    ]
    assert written[4] | {"created_at": None} == {
        "created_at": None,
        "token_name": "onelogin",
        "method": "GET",
        "path": "/scim/v2/Users?n=4",
        "status": 200,
        "duration_ms": 4,
        "scim_type": "",
        "error_detail": "",
        "request_body": "",
        "request_id": "req-4",
        "ignored_attributes": "a, b",
    }


def test_with_redis_down_the_row_is_written_directly_and_the_request_answers(
    buffered, settings, scim, caplog
):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }

    response = scim.post("/Users", {"userName": "redis-down@example.com"})

    assert response.status_code == 201
    entry = ScimRequestLog.objects.get()
    assert (entry.method, entry.status) == ("POST", 201)
    assert json.loads(entry.request_body) == {"userName": "redis-down@example.com"}
    assert "request log buffer unavailable; writing directly" in caplog.text


def test_with_tasks_run_in_process_each_request_writes_its_row(buffered, settings, scim):
    settings.CELERY_TASK_ALWAYS_EAGER = True

    scim.get("/Users?count=1")

    assert ScimRequestLog.objects.get().status == 200
    assert buffer_length() == 0


def test_an_overflowing_buffer_sends_the_next_requests_to_postgresql(
    buffered, monkeypatch, scim, caplog
):
    monkeypatch.setattr(requestlog_buffer, "BUFFER_MAX", 1)
    monkeypatch.setattr(requestlog_buffer, "_direct_until", 0.0)

    for _ in range(3):
        scim.get("/Users?count=1")

    assert buffer_length() == 2  # the second push found the list full
    assert ScimRequestLog.objects.count() == 1
    assert "2 request log rows wait in Redis" in caplog.text
    assert request_log_buffer_drain() == 2
    assert ScimRequestLog.objects.count() == 3


def test_a_drain_that_cannot_reach_postgresql_puts_its_rows_back_in_order(buffered, monkeypatch):
    for n in range(3):
        request_log_write(token_name="t", method="GET", path=f"/{n}", status=200, duration_ms=1)

    def unreachable(rows):
        raise OperationalError("server closed the connection unexpectedly")

    reachable = requestlog._insert_async_commit
    monkeypatch.setattr(requestlog, "_insert_async_commit", unreachable)
    with pytest.raises(OperationalError):
        request_log_buffer_drain(batch=2)
    monkeypatch.setattr(requestlog, "_insert_async_commit", reachable)

    assert buffer_length() == 3
    assert request_log_buffer_drain() == 3
    assert [r["path"] for r in rows()] == ["/0", "/1", "/2"]


def test_the_drain_is_scheduled_every_minute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["scim-request-log-drain"]

    assert entry == {"task": "scim.tasks.request_log_drain", "schedule": 60.0}


@pytest.mark.django_db(transaction=True)  # autocommit, as in a worker
def test_a_row_postgresql_refuses_is_dropped_and_logged_and_the_rest_of_its_batch_written(
    buffered, caplog
):
    for status in (200, -1, 201):  # -1: the status column's check refuses it
        request_log_write(
            token_name="t", method="GET", path=f"/{status}", status=status, duration_ms=1,
            request_id=f"req{status}",
        )  # fmt: skip

    assert request_log_buffer_drain() == 2

    assert [r["path"] for r in rows()] == ["/200", "/201"]
    assert "dropped a request log row PostgreSQL refused (request req-1)" in caplog.text
    assert buffer_length() == 0
