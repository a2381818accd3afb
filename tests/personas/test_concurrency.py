"""Concurrent evaluations on real PostgreSQL: no unique violations, no lost rows."""

import threading

import pytest
from django.db import connection

from personas.models import PendingEvaluation, SpaceMembership
from personas.services import pending_drain, pending_mark_users, persona_evaluate
from tests.factories import UserFactory
from tests.personas.conftest import members
from users.models import AuditEvent
from users.services import Actor

pytestmark = pytest.mark.django_db(transaction=True)


def in_threads(count, work):
    barrier = threading.Barrier(count)
    errors, results = [], []

    def run():
        try:
            barrier.wait()
            results.append(work())
        except Exception as exc:  # reported by the assertions below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return errors, results


def test_two_evaluations_of_one_persona_at_once_add_each_member_once(define):
    for n in range(300):
        UserFactory(username=f"u{n}", department="Sales")
    persona = define("sales", {"attr": "department", "op": "eq", "value": "Sales"})
    errors, results = in_threads(
        4, lambda: persona_evaluate(persona=persona, actor=Actor.system("t"))
    )
    assert errors == []
    assert sorted(r.added for r in results) == [0, 0, 0, 300]
    assert SpaceMembership.objects.count() == 300
    assert AuditEvent.objects.filter(action="space.member_added").count() == 300


def test_concurrent_drains_share_the_marks_without_losing_any(define):
    users = [UserFactory(username=f"u{n}", department="Sales") for n in range(200)]
    define("sales", {"attr": "department", "op": "eq", "value": "Sales"})
    for user in users:
        pending_mark_users(user_ids={user.pk})
    errors, results = in_threads(3, lambda: pending_drain(actor=Actor.system("t")))
    assert errors == []
    assert sum(r.marks for r in results) == 200
    assert PendingEvaluation.objects.count() == 0
    assert len(members()) == 200


def test_drains_and_full_evaluations_at_once_do_not_deadlock(define):
    users = [UserFactory(username=f"u{n}", department="Sales", title="Lead") for n in range(60)]
    personas = [
        define("sales", {"attr": "department", "op": "eq", "value": "Sales"}),
        define("leads", {"attr": "title", "op": "eq", "value": "Lead"}, spaces=("leads",)),
        define("both", {"attr": "title", "op": "startswith", "value": "L"}, spaces=("both",)),
    ]
    for user in users:
        pending_mark_users(user_ids={user.pk})
    actor = Actor.system("t")
    work = iter(
        [
            lambda: pending_drain(actor=actor),
            lambda: persona_evaluate(persona=personas[2], actor=actor),
            lambda: persona_evaluate(persona=personas[0], actor=actor),
            lambda: persona_evaluate(persona=personas[1], actor=actor),
        ]
    )
    errors, _ = in_threads(4, lambda: next(work)())
    assert errors == []
    assert (len(members()), len(members("leads")), len(members("both"))) == (60, 60, 60)
    assert SpaceMembership.objects.count() == 180
