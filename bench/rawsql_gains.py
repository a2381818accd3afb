"""What each hand-written statement (axero_idp/rawsql.py) gains over its ORM equivalent.

Run by hand against the real PostgreSQL (never part of the suite's pass/fail):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> SECRET_KEY=bench \\
        .venv/bin/python -m pytest -p no:cacheprovider -q -s bench/rawsql_gains.py

Prints the median of several rounds for each pair; the numbers quoted in the comments
beside the statements come from here.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pytest
from django.db import connection, transaction
from django.utils import timezone

from axero_idp import rawsql
from events.models import Event
from personas.models import MembershipSource, Persona, PersonaSpace, Space, SpaceMembership
from personas.services import persona_evaluate
from personas.services.removals import audit_memberships_removed
from users.models import AuditEvent, User
from users.services import Actor, audit_record
from users.services.audit import AUDIT_COLUMNS

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("bench")
MEMBERS = 10_000


def _median_ms(work: Callable[[], object], rounds: int = 5) -> float:
    """Median wall time of work, each round rolled back (the next starts the same)."""
    times = []
    for _ in range(rounds):
        with transaction.atomic():
            start = time.perf_counter()
            work()
            times.append((time.perf_counter() - start) * 1000)
            transaction.set_rollback(True)
    return statistics.median(times)


def _report(name: str, hand: float, orm: float) -> None:
    print(f"\n{name}: hand-written {hand:.2f} ms, ORM {orm:.2f} ms ({orm / hand:.1f}x)")


def _seed_users(count: int) -> None:
    User.objects.bulk_create(
        [
            User(username=f"b{n}", email=f"b{n}@example.com", department="Sales")
            for n in range(count)
        ],
        batch_size=2000,
    )


def test_single_audit_row_orm_against_hand_written():
    quote = connection.ops.quote_name
    cols = ", ".join(quote(c) for c in AUDIT_COLUMNS)

    def hand() -> None:
        for _ in range(200):
            rawsql.execute(
                f"INSERT INTO {rawsql.table(AuditEvent)} ({cols}) VALUES"
                " (%s, %s, %s, %s, %s, %s, %s, %s)",
                [timezone.now(), "system", "bench", "x.y", "user", "1", "{}", ""],
            )

    def orm() -> None:
        for _ in range(200):
            audit_record(actor=ACTOR, action="x.y", target_type="user", target_id="1")

    hand_ms, orm_ms = _median_ms(hand) / 200, _median_ms(orm) / 200
    _report("one audit row", hand_ms, orm_ms)


def _space_with_members(count: int) -> Space:
    _seed_users(count)
    space = Space.objects.create(slug="big", name="Big")
    rawsql.execute(
        f"INSERT INTO {rawsql.table(SpaceMembership)} (space_id, user_id, source, role,"
        f" created_at) SELECT %s, id, 'manual', 'member', now() FROM {rawsql.table(User)}",
        [space.pk],
    )
    return space


def test_audit_of_removed_memberships_set_based_against_orm():
    space = _space_with_members(MEMBERS)
    memberships = SpaceMembership.objects.filter(space=space)

    def hand() -> None:
        audit_memberships_removed(memberships=memberships, actor=ACTOR)

    def orm() -> None:
        rows = memberships.select_related("space", "persona")
        AuditEvent.objects.bulk_create(
            [
                AuditEvent(
                    actor_kind="system",
                    actor_name="bench",
                    action="space.member_removed",
                    target_type="user",
                    target_id=str(m.user_id),
                    detail={"space": m.space.slug, "source": m.source, "role": m.role},
                )
                for m in rows
            ],
            batch_size=1000,
        )
        Event.objects.bulk_create(
            [
                Event(
                    type="space.member_removed", actor_kind="system", data={"user": str(m.user_id)}
                )
                for m in rows
            ],
            batch_size=2000,
        )

    _report(
        f"audit + outbox of {MEMBERS} removed memberships", _median_ms(hand, 3), _median_ms(orm, 3)
    )


def test_first_evaluation_set_based_against_orm():
    _seed_users(MEMBERS)
    space = Space.objects.create(slug="sales", name="Sales")
    persona = Persona.objects.create(
        slug="sales", name="Sales", rule={"attr": "department", "op": "eq", "value": "Sales"}
    )
    PersonaSpace.objects.create(persona=persona, space=space, role="member")

    def hand() -> None:
        persona_evaluate(persona=persona, actor=ACTOR)

    def orm() -> None:
        ids = list(User.objects.filter(department="Sales").values_list("pk", flat=True))
        SpaceMembership.objects.bulk_create(
            [
                SpaceMembership(
                    space=space, user_id=pk, persona=persona, source=MembershipSource.PERSONA
                )
                for pk in ids
            ],
            ignore_conflicts=True,
            batch_size=2000,
        )
        Event.objects.bulk_create(
            [
                Event(type="space.member_added", actor_kind="system", data={"user": str(pk)})
                for pk in ids
            ],
            batch_size=2000,
        )
        audit_record(actor=ACTOR, action="persona.evaluated", target=persona)

    _report(f"first evaluation of {MEMBERS} members", _median_ms(hand, 3), _median_ms(orm, 3))
