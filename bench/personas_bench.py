"""Persona evaluation at company scale (run by hand; never part of the test suite).

    .venv/bin/python bench/personas_bench.py [--users 100000]

Drops and re-creates the dedicated local database BENCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/axero_personas_bench), seeds users with roles,
custom fields, managers and hire dates by COPY, defines a few personas, then times:
a first full evaluation, a no-change rerun, a per-user evaluation after a change, and
the evaluation a 50,000-member role change causes. Prints EXPLAIN of the hot paths.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path

os.environ.setdefault(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/axero_personas_bench"
)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import scim_setup

RULES = {
    "engineering": {"attr": "roles", "op": "contains", "value": "engineering"},
    "new-hires": {"attr": "hire_date", "op": "within_days", "value": 90},
    "remote-sales": {
        "all": [
            {"attr": "custom.persona", "op": "eq", "value": "Sales"},
            {"attr": "custom.badges", "op": "contains", "value": "remote"},
        ]
    },
    "managers-reports": {
        "any": [
            {"attr": "manager", "op": "eq", "value": "bench000001@example.com"},
            {"attr": "title", "op": "eq", "value": "manager"},
        ]
    },
}


def seed(count: int) -> dict[str, object]:
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from users.models import Role, RoleMembership, User
    from users.services import Actor, custom_field_define

    call_command("migrate", verbosity=0)
    actor = Actor.system("bench")
    custom_field_define(key="persona", type="string", actor=actor)
    custom_field_define(key="badges", type="list", actor=actor)
    now, today = timezone.now(), timezone.localdate()
    ids = [uuid.uuid4() for _ in range(count)]
    columns = [
        "id", "username", "email", "first_name", "last_name", "display_name", "title",
        "department", "employee_number", "cost_center", "organization", "division",
        "pending_manager_ref", "hire_date", "photo_url", "custom", "is_active", "is_staff",
        "is_superuser", "source", "session_generation", "version", "created_at",
        "updated_at", "password", "manager_id", "image_version", "deactivated_by",
        "idp_may_reactivate",
    ]  # fmt: skip
    rows = []
    for n, user_id in enumerate(ids):
        custom = {
            "persona": ("Engineer", "Sales", "Support", "Ops")[n % 4],
            "badges": ["remote"] if n % 3 == 0 else ["office"],
        }
        rows.append(
            [
                user_id, f"bench{n:06d}@example.com", f"bench{n:06d}@example.com",
                f"First{n}", f"Last{n % 977}", "", ("Engineer", "Manager", "Analyst")[n % 3],
                ("R&D", "Sales", "Ops", "Finance")[n % 4], str(100000 + n), "", "", "", "",
                today - dt.timedelta(days=n % 1825), "", json.dumps(custom), n % 50 != 0,
                False, False, "scim", 0, 1, now, now, "!", ids[1] if n % 10 == 0 else None,
                "", "" if n % 50 else "scim", False,
            ]
        )  # fmt: skip
    for start in range(0, count, 20000):
        scim_setup._copy(User._meta.db_table, columns, rows[start : start + 20000])
    engineering = Role.objects.create(display_name="Engineering")
    sales = Role.objects.create(display_name="Sales")
    member_columns = ["role_id", "user_id", "source", "created_at"]
    scim_setup._copy(
        RoleMembership._meta.db_table,
        member_columns,
        [[engineering.pk, pk, "scim", now] for pk in ids[:50000]],
    )
    scim_setup._copy(
        RoleMembership._meta.db_table,
        member_columns,
        [[sales.pk, pk, "scim", now] for pk in ids[50000:60000]],
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return {"ids": ids, "engineering": engineering}


def timed(label: str, func, results: list[tuple[str, str]]):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    value = func()
    seconds = time.perf_counter() - started
    results.append((label, f"{seconds * 1000:.0f} ms"))
    print(f"{label}: {seconds * 1000:.0f} ms  {value if value is not None else ''}")
    return value


def explain(title: str, sql: str, params: list[object]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (COSTS OFF) " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    print(f"\n-- EXPLAIN {title}\n{plan}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100000)
    args = parser.parse_args()
    scim_setup.DATABASE_URL = os.environ["BENCH_DATABASE_URL"]
    scim_setup.SERVER_ENV["DATABASE_URL"] = scim_setup.DATABASE_URL
    scim_setup.recreate_database()
    scim_setup.setup_django()

    from django.db import connection
    from django.utils import timezone

    from personas.models import PendingEvaluation, Persona, Space, SpaceMembership
    from personas.selectors import space_member_count, space_members_page
    from personas.services import (
        SpaceGrant,
        pending_drain,
        persona_evaluate,
        persona_evaluate_for_users,
        persona_upsert,
        space_upsert,
    )
    from personas.services.evaluation import _match_sql
    from users.models import User
    from users.selectors import custom_fields_by_key
    from users.services import Actor, role_members_add, role_members_remove, user_update

    print(f"load average at the start: {os.getloadavg()}")
    started = time.perf_counter()
    data = seed(args.users)
    print(f"seeded {args.users} users in {time.perf_counter() - started:.1f} s")
    actor = Actor.system("bench")
    personas = []
    for slug, rule in RULES.items():
        space_upsert(slug=slug, name=slug, actor=actor)
        persona, _ = persona_upsert(
            slug=slug, name=slug, rule=rule, spaces=[SpaceGrant(space=slug, role="member")],
            actor=actor, schedule_evaluation=False,
        )  # fmt: skip
        personas.append(persona)
    results: list[tuple[str, str]] = []

    def evaluate_all() -> str:
        out = [persona_evaluate(persona=p, actor=actor) for p in personas]
        return ", ".join(f"{r.persona} +{r.added} -{r.removed}" for r in out)

    for persona in personas:
        timed(
            f"first evaluation, {persona.slug}",
            lambda p=persona: persona_evaluate(persona=p, actor=actor),
            results,
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    timed("no-change rerun, all 4 personas", evaluate_all, results)

    ids = data["ids"]
    samples = []
    for n in range(20):
        user = User.objects.get(pk=ids[60000 + n])
        user_update(user=user, actor=actor, attributes={"title": "Manager" if n % 2 else "Analyst"})
        begin = time.perf_counter()
        persona_evaluate_for_users(user_ids=[user.pk], actor=actor)
        samples.append(time.perf_counter() - begin)
    median = statistics.median(samples) * 1000
    results.append(
        ("per-user evaluation after a change, all 4 personas (median of 20)", f"{median:.1f} ms")
    )
    print(f"per-user evaluation median: {median:.1f} ms (max {max(samples) * 1000:.1f} ms)")

    batch = ids[61000:62000]
    User.objects.filter(pk__in=batch).update(title="Manager")
    timed(
        "drain-sized batch: 1,000 changed users, all 4 personas",
        lambda: sum(r.added for r in persona_evaluate_for_users(user_ids=batch, actor=actor)),
        results,
    )

    engineering = data["engineering"]
    PendingEvaluation.objects.all().delete()
    timed(
        "role change: remove 50,000 members (SCIM service + event handler marks)",
        lambda: len(
            role_members_remove(role=engineering, user_ids=ids[:50000], source="scim", actor=actor)
        ),
        results,
    )
    timed(
        "drain after the 50,000-member removal (full re-evaluation)",
        lambda: pending_drain(actor=actor),
        results,
    )
    timed(
        "role change: add 50,000 members back",
        lambda: len(
            role_members_add(role=engineering, user_ids=ids[:50000], source="scim", actor=actor)
        ),
        results,
    )
    timed("drain after the 50,000-member add", lambda: pending_drain(actor=actor), results)
    print("memberships:", SpaceMembership.objects.count())

    space = Space.objects.get(slug="engineering")
    timed(
        "API page of 100 members (selector)",
        lambda: len(space_members_page(space, after=None, limit=100)[0]),
        results,
    )

    timed(
        "API total of a 49,000-member space (count distinct)",
        lambda: space_member_count(space),
        results,
    )
    print(f"load average at the end: {os.getloadavg()}")

    fields = custom_fields_by_key()
    today = timezone.localdate()
    for persona in personas:
        sql, params = _match_sql(persona, fields, today, [ids[5]])
        explain(f"per-user match, {persona.slug}", sql, list(params))
    for persona in personas[:3:2]:  # roles (50,000 members) and custom fields (GIN)
        sql, params = _match_sql(persona, fields, today, None)
        explain(f"full match, {persona.slug}", sql, list(params))
    eng = Persona.objects.get(slug="engineering")
    explain(
        "leavers of one persona/space (diff)",
        "SELECT user_id FROM personas_spacemembership WHERE persona_id = %s AND space_id = %s",
        [eng.pk, space.pk],
    )
    explain(
        "API page",
        "SELECT DISTINCT user_id FROM personas_spacemembership WHERE space_id = %s ORDER BY user_id LIMIT 101",
        [space.pk],
    )
    print("\n| measurement | time |\n| --- | --- |")
    for label, value in results:
        print(f"| {label} | {value} |")
    print(
        f"\nmachine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )


if __name__ == "__main__":
    main()
