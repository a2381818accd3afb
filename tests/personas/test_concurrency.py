"""Concurrent evaluations on real PostgreSQL: no unique violations, no lost rows."""

import threading

import pytest
from django.db import connection

from events.models import Event
from personas.models import PendingEvaluation, SpaceMembership
from personas.services import pending_drain, pending_mark_users, persona_evaluate
from tests.factories import UserFactory
from tests.personas.conftest import members
from users.models import AuditEvent, User
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
    assert Event.objects.filter(type="space.member_added").count() == 300
    [summary] = AuditEvent.objects.filter(action="persona.evaluated")
    assert summary.detail["added"] == 300


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


def _wait_until_a_backend_waits_for_a_lock(timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("nobody waited for a lock")


def test_an_import_takes_persona_locks_in_the_order_evaluations_do(define):
    from django.db import transaction

    from personas.models import Persona
    from personas.services import personas_import

    alpha = define("alpha", {"attr": "department", "op": "eq", "value": "Sales"})
    beta = define("beta", {"attr": "department", "op": "eq", "value": "R&D"})
    assert alpha.pk < beta.pk
    document = {
        "personas": [
            {"slug": "beta", "name": "Beta 2", "rule": beta.rule, "spaces": [{"space": "space"}]},
            {
                "slug": "alpha",
                "name": "Alpha 2",
                "rule": alpha.rule,
                "spaces": [{"space": "space"}],
            },
        ]
    }
    holding, release = threading.Event(), threading.Event()
    errors: list[Exception] = []

    def evaluation_in_pk_order() -> None:
        # What persona_evaluate_for_users does: lock alpha, then beta.
        try:
            with transaction.atomic():
                Persona.objects.select_for_update().get(pk=alpha.pk)
                holding.set()
                release.wait(10)
                Persona.objects.select_for_update().get(pk=beta.pk)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    def importer() -> None:
        holding.wait(10)
        try:
            personas_import(document=document, actor=Actor.system("t"), evaluate=False)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=evaluation_in_pk_order), threading.Thread(target=importer)]
    for thread in threads:
        thread.start()
    holding.wait(10)
    _wait_until_a_backend_waits_for_a_lock()  # the import, queued behind alpha's lock
    release.set()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(Persona.objects.values_list("name", flat=True)) == ["Alpha 2", "Beta 2"]


@pytest.mark.parametrize("kind", ["full evaluation", "drain of user marks"])
def test_an_evaluation_racing_a_user_deletion_retries_instead_of_failing(define, kind):
    from django.db import transaction

    from users.services import user_delete

    ann = UserFactory(username="ann", department="Sales")
    UserFactory(username="bob", department="Sales")
    persona = define("sales", {"attr": "department", "op": "eq", "value": "Sales"})
    if kind == "full evaluation":
        work = lambda: persona_evaluate(persona=persona, actor=Actor.system("t"))  # noqa: E731
    else:
        pending_mark_users(user_ids={user.pk for user in User.objects.all()})
        work = lambda: pending_drain(actor=Actor.system("t"))  # noqa: E731
    deleted, release = threading.Event(), threading.Event()
    errors: list[Exception] = []
    results = []

    def deletion() -> None:
        try:
            with transaction.atomic():
                user_delete(user=ann, actor=Actor.system("t"))
                deleted.set()
                release.wait(10)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    def evaluation() -> None:
        # Its snapshot still shows ann; its commit's foreign-key check waits for the
        # deletion, which then commits: the first attempt cannot succeed.
        deleted.wait(10)
        try:
            results.append(work())
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deletion), threading.Thread(target=evaluation)]
    for thread in threads:
        thread.start()
    deleted.wait(10)
    _wait_until_a_backend_waits_for_a_lock()
    release.set()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert [(r.added, r.removed) for r in results] == [(1, 0)]
    assert members() == {"bob"}
    assert Event.objects.filter(type="space.member_added").count() == 1
    assert PendingEvaluation.objects.count() == 0
