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


def test_login_role_lookup_union_against_orm_union():
    from django.db.models import Exists, OuterRef, Value
    from django.db.models.functions import Lower

    from users.models import Role, RoleMembership
    from users.services.roles import _named_and_held

    user = User.objects.create(username="ann", email="ann@example.com")
    roles = Role.objects.bulk_create([Role(display_name=f"Team {n}") for n in range(200)])
    source = "saml:okta"
    RoleMembership.objects.bulk_create(
        [RoleMembership(role=r, user=user, source=source) for r in roles[:5]]
    )
    names = [f"team {n}" for n in range(3, 9)]

    def hand() -> None:
        for _ in range(100):
            _named_and_held(user, source, names)

    def orm() -> None:
        for _ in range(100):
            held_by = RoleMembership.objects.filter(role=OuterRef("pk"), user=user, source=source)
            named = (
                Role.objects.annotate(lower=Lower("display_name"))
                .filter(lower__in=names)
                .annotate(held=Exists(held_by))
                .values_list("pk", "display_name", "held")
                .order_by()
            )
            held = (
                RoleMembership.objects.filter(user=user, source=source)
                .annotate(held=Value(True))
                .values_list("role_id", "role__display_name", "held")
                .order_by()
            )
            list(named.union(held))

    _report("a login's role lookup (per call)", _median_ms(hand) / 100, _median_ms(orm) / 100)


def test_batch_user_insert_reporting_skips_against_orm():
    from users.services.creates_many import _insert_skipping_taken

    fields = tuple(User._meta.concrete_fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    pk = connection.ops.quote_name(User._meta.pk.attname)

    User.objects.bulk_create([User(username=f"taken{n}") for n in range(0, 1000, 10)])

    def batch() -> list[User]:
        return [User(username=f"taken{n}", email=f"t{n}@example.com") for n in range(1000)]

    def hand() -> None:
        # The hand-written INSERT ... ON CONFLICT DO NOTHING RETURNING this replaced.
        users = sorted(batch(), key=lambda u: u.username.lower())
        params = [
            f.get_db_prep_save(getattr(u, f.attname), connection) for u in users for f in fields
        ]
        rawsql.fetch_all(
            f"INSERT INTO {rawsql.table(User)} ({rawsql.model_columns(User)}) "
            f"VALUES {', '.join([row] * len(users))} ON CONFLICT DO NOTHING RETURNING {pk}",
            params,
        )

    def orm() -> None:
        _insert_skipping_taken(batch())

    for _ in range(3):
        _report("1,000 batch users (100 taken)", _median_ms(hand, 7), _median_ms(orm, 7))


def test_user_events_snapshot_set_based_against_orm():
    from events.recording import _users_events

    _seed_users(1000)
    ids = list(User.objects.values_list("pk", flat=True))

    def hand() -> None:
        _users_events("user.created", ids, "scim")

    def orm() -> None:
        from django.forms.models import model_to_dict

        rows = User.objects.filter(pk__in=ids).order_by("username")
        Event.objects.bulk_create(
            [
                Event(
                    type="user.created",
                    actor_kind="scim",
                    data={"user_row": {k: str(v) for k, v in model_to_dict(u).items()}},
                )
                for u in rows
            ],
            batch_size=2000,
        )

    _report("user.created events of 1,000 users", _median_ms(hand), _median_ms(orm))


def _cpu_per_call_us(work: Callable[[User], object], count: int = 1000) -> tuple[float, float]:
    """Python and PostgreSQL-backend CPU (us) per call of work on a new provisioned user,
    in one rolled-back transaction (the backend's from /proc, so on this machine only)."""
    from users.services.users import unusable_password

    def backend_ns() -> int:
        pid = connection.connection.info.backend_pid
        with open(f"/proc/{pid}/schedstat") as stat:
            return int(stat.read().split()[0])

    with transaction.atomic():
        users = [
            User(
                username=f"new{n}@example.com",
                email=f"new{n}@example.com",
                external_id=f"ext-{n}",
                source="scim",
                password=unusable_password(),
            )
            for n in range(count)
        ]
        backend, python = backend_ns(), time.process_time()
        for user in users:
            work(user)
        python, backend = time.process_time() - python, backend_ns() - backend
        transaction.set_rollback(True)
    return python * 1e6 / count, backend / 1000 / count


def test_user_insert_carrying_the_reports_probe_against_save_then_probe():
    from users.services.reports import reports_waiting, user_insert_finding_reports

    _seed_users(2000)

    def orm(user: User) -> None:
        user.save(force_insert=True)
        reports_waiting(user)

    for _ in range(3):
        hand_py, hand_pg = _cpu_per_call_us(user_insert_finding_reports)
        orm_py, orm_pg = _cpu_per_call_us(orm)
        print(
            f"\nSCIM user INSERT and waiting-reports probe, CPU per create: one statement "
            f"python {hand_py:.0f} us + PostgreSQL {hand_pg:.0f} us; save() then the probe "
            f"python {orm_py:.0f} us + PostgreSQL {orm_pg:.0f} us"
        )
