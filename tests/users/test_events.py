"""users.events: after-commit listeners and in-transaction (outbox) listeners."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from personas.models import PendingEvaluation
from tests.factories import UserFactory
from users import events
from users.services import user_update

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


def test_outbox_listeners_run_inside_the_transaction_and_after_commit_ones_after(actor, committing):
    ann = UserFactory(username="ann")
    calls: list[tuple[str, bool]] = []

    def inside(event):
        calls.append(("inside", connection.in_atomic_block))

    def after(event):
        calls.append(("after", connection.in_atomic_block))

    events.subscribe_in_transaction(events.UserChanged, inside)
    events.subscribe(events.UserChanged, after)
    try:
        with committing():
            user_update(user=ann, actor=actor, attributes={"title": "CTO"})
    finally:
        events.unsubscribe(events.UserChanged, inside)
        events.unsubscribe(events.UserChanged, after)

    assert calls[0] == ("inside", True)
    assert calls[-1][0] == "after"


def test_an_outbox_row_rolls_back_with_the_change(actor):
    ann = UserFactory(username="ann")

    marks_inside: list[int] = []

    def change_then_fail() -> None:
        with transaction.atomic():
            user_update(user=ann, actor=actor, attributes={"title": "CTO"})
            marks_inside.append(PendingEvaluation.objects.count())
            raise Boom

    with pytest.raises(Boom):
        change_then_fail()

    assert marks_inside == [1]  # written with the change

    assert PendingEvaluation.objects.count() == 0
    ann.refresh_from_db()
    assert ann.title == ""
