"""Transactions without round trips of their own for BEGIN and COMMIT (axero_idp.db):
BEGIN rides with the first statement, COMMIT with the write-behind queue, and the
server sees the same transactions as with psycopg2's own BEGIN and COMMIT."""

from __future__ import annotations

import psycopg2
import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from psycopg2.extensions import TRANSACTION_STATUS_IDLE, TRANSACTION_STATUS_INTRANS

from axero_idp.db import insert_behind
from personas.models import PendingEvaluation
from users.models import User

pytestmark = pytest.mark.django_db(transaction=True)


def _round_trips(ctx: CaptureQueriesContext) -> list[list[str]]:
    return [[s.split(" (")[0] for s in q["sql"].split(";\n")] for q in ctx.captured_queries]


def _seen_from_another_connection(sql: str) -> list[tuple]:
    params = {
        k: v
        for k, v in connection.get_connection_params().items()
        if k not in ("connection_factory", "cursor_factory")
    }
    with psycopg2.connect(**params) as other, other.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall()
    other.close()
    return rows


def test_begin_rides_with_the_first_statement_and_commit_with_the_queue():
    with CaptureQueriesContext(connection) as ctx, transaction.atomic():
        User.objects.create(username="ann")
        assert connection.connection.info.transaction_status == TRANSACTION_STATUS_INTRANS
        insert_behind(PendingEvaluation(persona_id=1))

    assert _round_trips(ctx) == [
        ["BEGIN", 'INSERT INTO "users_user"'],
        ['INSERT INTO "personas_pendingevaluation"', "COMMIT"],
    ]
    assert connection.connection.info.transaction_status == TRANSACTION_STATUS_IDLE
    assert _seen_from_another_connection("SELECT username FROM users_user") == [("ann",)]
    assert _seen_from_another_connection("SELECT persona_id FROM personas_pendingevaluation") == [
        (1,)
    ]


def test_the_statements_of_a_block_share_one_transaction():
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT txid_current()")
        first = cursor.fetchone()
        cursor.execute("SELECT txid_current()")
        assert cursor.fetchone() == first
    with connection.cursor() as cursor:
        cursor.execute("SELECT txid_current_if_assigned()")  # autocommit again
        assert cursor.fetchone() == (None,)


def test_a_block_without_a_statement_sends_nothing():
    with CaptureQueriesContext(connection) as ctx, transaction.atomic():
        pass
    assert ctx.captured_queries == []
    assert connection.connection.info.transaction_status == TRANSACTION_STATUS_IDLE


def test_a_failed_block_is_rolled_back_on_the_server_and_the_connection_carries_on():
    User.objects.create(username="ann")
    with pytest.raises(IntegrityError):
        _create_in_one_block("ben", "ann")
    assert connection.connection.info.transaction_status == TRANSACTION_STATUS_IDLE
    assert _seen_from_another_connection("SELECT username FROM users_user") == [("ann",)]
    assert list(User.objects.values_list("username", flat=True)) == ["ann"]


def test_a_block_whose_first_statement_fails_is_rolled_back_too():
    User.objects.create(username="ann")
    with pytest.raises(IntegrityError):
        _create_in_one_block("ann")  # BEGIN rode with it: the server is in a transaction
    assert connection.connection.info.transaction_status == TRANSACTION_STATUS_IDLE
    assert User.objects.count() == 1


def _create_in_one_block(*usernames: str) -> None:
    with transaction.atomic():
        for username in usernames:
            User.objects.create(username=username)


def test_an_inner_block_rolls_back_to_its_savepoint_only():
    with transaction.atomic():
        User.objects.create(username="ann")
        try:
            with transaction.atomic():
                User.objects.create(username="ann")
        except IntegrityError:
            pass
        User.objects.create(username="ben")
    assert _seen_from_another_connection("SELECT username FROM users_user ORDER BY 1") == [
        ("ann",),
        ("ben",),
    ]


def test_a_server_side_cursor_works_inside_a_transaction():
    User.objects.bulk_create([User(username=f"u{n}") for n in range(5)])
    with transaction.atomic():
        insert_behind(PendingEvaluation(persona_id=2))
        names = [u.username for u in User.objects.order_by("username").iterator(chunk_size=2)]
        assert PendingEvaluation.objects.count() == 1
    assert names == [f"u{n}" for n in range(5)]
