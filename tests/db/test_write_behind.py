"""Write-behind (axero_idp.db): a queued INSERT rides with the next statement on the
connection, in the same transaction and order as if it had been sent at once."""

from __future__ import annotations

import uuid

import pytest
from django.db import DataError, connection, transaction
from django.test.utils import CaptureQueriesContext

from axero_idp.db import insert_behind, write_behind
from personas.models import PendingEvaluation
from users.models import AuditEvent

pytestmark = pytest.mark.django_db


def _mark() -> uuid.UUID:
    user_id = uuid.uuid4()
    insert_behind(PendingEvaluation(user_id=user_id))
    return user_id


def test_a_queued_insert_is_sent_with_the_next_statement_in_one_round_trip():
    with transaction.atomic(), CaptureQueriesContext(connection) as ctx:
        user_id = _mark()
        assert ctx.captured_queries == []
        assert PendingEvaluation.objects.filter(user_id=user_id).count() == 1

    [sent] = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("INSERT")]
    assert sent.startswith('INSERT INTO "personas_pendingevaluation"')
    assert 'SELECT COUNT(*) AS "__count" FROM "personas_pendingevaluation"' in sent
    assert "RETURNING" not in sent


def _mark_and_fail(marked: list[uuid.UUID]) -> None:
    with transaction.atomic():
        marked.append(_mark())
        raise RuntimeError("the block fails")


def test_an_inner_atomic_block_that_fails_rolls_its_queued_rows_back():
    dropped: list[uuid.UUID] = []
    with transaction.atomic():
        kept = _mark()
        with pytest.raises(RuntimeError):
            _mark_and_fail(dropped)
        with transaction.atomic():
            inner_kept = _mark()
    assert len(dropped) == 1
    assert set(PendingEvaluation.objects.values_list("user_id", flat=True)) == {kept, inner_kept}


def test_values_holding_percent_signs_survive_a_next_statement_with_or_without_parameters():
    names = ["50% off", "%s and %(x)s", "100%%"]
    with transaction.atomic():
        for name in names:
            insert_behind(
                AuditEvent(actor_kind="system", actor_name=name, action="t.pct", detail={"p": name})
            )
        rows = list(
            AuditEvent.objects.filter(action="t.pct")
            .order_by("id")
            .values_list("actor_name", "detail")
        )
        insert_behind(AuditEvent(actor_kind="system", actor_name="a%b", action="t.pct2"))
        with connection.cursor() as cursor:
            cursor.execute("SELECT actor_name FROM users_auditevent WHERE action LIKE 't.pct_'")
            assert cursor.fetchall() == [("a%b",)]
    assert rows == [(name, {"p": name}) for name in names]


def test_a_named_cursor_and_executemany_send_the_queue_first():
    with transaction.atomic():
        first = _mark()
        assert [m.user_id for m in PendingEvaluation.objects.iterator(chunk_size=10)] == [first]
        second = _mark()
        with connection.cursor() as cursor:
            cursor.executemany(
                "UPDATE personas_pendingevaluation SET persona_id = %s WHERE user_id = %s",
                [(7, second)],
            )
        assert PendingEvaluation.objects.get(user_id=second).persona_id == 7


def test_a_queued_statement_s_error_surfaces_on_the_statement_it_rides_with():
    with transaction.atomic():
        write_behind(
            "INSERT INTO personas_pendingevaluation (persona_id, created_at) VALUES (%s, now())",
            ["not a number"],
        )
        with pytest.raises(DataError, match="invalid input syntax for type bigint"):
            PendingEvaluation.objects.count()
        transaction.set_rollback(True)


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_statement_runs_at_once():
    with CaptureQueriesContext(connection) as ctx:
        user_id = _mark()
    assert len(ctx.captured_queries) == 1
    assert connection.connection.behind == []
    assert PendingEvaluation.objects.filter(user_id=user_id).exists()


@pytest.mark.django_db(transaction=True)
def test_the_queue_is_sent_before_commit_and_dropped_by_a_rollback():
    with CaptureQueriesContext(connection) as ctx, transaction.atomic():
        committed = _mark()
    # One round trip: BEGIN, the queued row and COMMIT (tests/db/test_transactions.py).
    [sent] = [q["sql"] for q in ctx.captured_queries]
    assert [s.split(" (")[0] for s in sent.split(";\n")] == [
        "BEGIN",
        'INSERT INTO "personas_pendingevaluation"',
        "COMMIT",
    ]
    dropped: list[uuid.UUID] = []
    with pytest.raises(RuntimeError):
        _mark_and_fail(dropped)
    assert connection.connection.behind == []
    assert list(PendingEvaluation.objects.values_list("user_id", flat=True)) == [committed]
