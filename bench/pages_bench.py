"""The employee pages at company scale (run by hand; never part of the test suite).

    .venv/bin/python bench/pages_bench.py [--users 100000] [--requests 200]

Drops and re-creates the dedicated local database BENCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/axero_pages_bench), seeds users by COPY in a manager
tree (eight reports per manager, six levels under the CEO, plus one manager with 2,000
direct reports), 20 spaces (two per person, one with half the company), then requests
each page through Django's test client in this process (the whole stack: middleware,
sessions, CSP, templates) and prints p50 / p95 per page, and EXPLAIN of the searches.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/axero_pages_bench")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import scim_setup

FIRST = ["Ann", "Bob", "Cara", "Dev", "Eva", "Finn", "Gita", "Hugo", "Ines", "Jon", "Kemal", "Lea"]
LAST = ["Lee", "Stone", "Kaya", "Novak", "Okafor", "Silva", "Tanaka", "Weber", "Young", "Zhou"]
TITLES = ["Engineer", "Senior Engineer", "Analyst", "Account Executive", "Designer", "Manager"]
DEPARTMENTS = ["Engineering", "Sales", "Finance", "Operations", "Design", "Support"]
FANOUT = 8
BIG_TEAM = 2000


def _person(n: int, ids: list[uuid.UUID], now: object) -> list[object]:
    first, last = FIRST[n % len(FIRST)], f"{LAST[n % len(LAST)]}{n // 120}"
    manager = None if n == 0 else ids[(n - 1) // FANOUT]
    if 90000 <= n < 90000 + BIG_TEAM:
        manager = ids[5]
    custom = {"office": ("Berlin", "Lisbon", "Austin", "Osaka")[n % 4]}
    return [
        ids[n], f"p{n:06d}@example.com", f"{first.lower()}.{last.lower()}@example.com",
        first, last, f"{first} {last}", "Chief Executive" if n == 0 else TITLES[n % 6],
        DEPARTMENTS[n % 6], json.dumps(custom), True, "scim", now, now, "!", manager,
    ]  # fmt: skip


def seed(count: int) -> dict[str, object]:
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from personas.models import Space, SpaceMembership
    from users.models import User
    from users.services import Actor, custom_field_define

    call_command("migrate", verbosity=0)
    custom_field_define(key="office", type="string", public=True, actor=Actor.system("bench"))
    now = timezone.now()
    ids = [uuid.uuid4() for _ in range(count)]
    columns = [
        "id", "username", "email", "first_name", "last_name", "display_name", "title",
        "department", "custom", "is_active", "source", "created_at", "updated_at",
        "password", "manager_id",
    ]  # fmt: skip
    # Every other NOT NULL column gets its model default (COPY fills in no defaults).
    rest = {
        f.column: f.get_default()
        for f in User._meta.concrete_fields
        if f.column not in columns and not f.null
    }
    columns += list(rest)
    rows = [_person(n, ids, now) + list(rest.values()) for n in range(count)]
    for start in range(0, count, 20000):
        scim_setup._copy(User._meta.db_table, columns, rows[start : start + 20000])
    spaces = [Space.objects.create(slug=f"space-{k:02d}", name=f"Space {k:02d}") for k in range(20)]
    member_columns = ["space_id", "user_id", "source", "role", "created_at"]
    memberships = [
        [spaces[k].pk, pk, "manual", "member", now]
        for n, pk in enumerate(ids)
        for k in ({0, 1 + n % 19} if n % 2 == 0 else {1 + n % 19})
    ]
    for start in range(0, len(memberships), 50000):
        scim_setup._copy(
            SpaceMembership._meta.db_table, member_columns, memberships[start : start + 50000]
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return {"ids": ids, "spaces": spaces}


def measure(client, path: str, requests: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    for _ in range(10):
        assert client.get(path).status_code == 200, path
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, path
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def explain(title: str, sql: str, params: list[object], settings: str = "") -> None:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        if settings:
            cursor.execute(settings)
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) " + sql, params)
        rows = [row[0] for row in cursor.fetchall()]
        plan = "\n".join(row for row in rows if "Cond:" not in row and "Filter:" not in row)
    print(f"\n-- EXPLAIN {title}\n{plan}")


def pages(ids: list[uuid.UUID]) -> list[tuple[str, str]]:
    leaf, ceo, big = ids[-2], ids[0], ids[5]
    return [
        ("home (/), a person six levels down", "/"),
        ("people, no search (first page)", "/people/"),
        ("people, search one rare surname", f"/people/?q=weber{(len(ids) - 3) // 120}"),
        ("people, search 'engineer' (1/3 match)", "/people/?q=engineer"),
        ("people, search 'lisbon' (no match)", "/people/?q=lisbon"),
        ("people, search two words 'sales ines'", "/people/?q=sales+ines"),
        ("people, search page 10 of 'engineer'", "/people/?q=engineer&page=10"),
        ("profile, a person six levels down", f"/people/{leaf}/"),
        ("profile, the CEO", f"/people/{ceo}/"),
        ("org chart, a person six levels down", f"/people/{leaf}/org/"),
        ("org chart, the CEO", f"/people/{ceo}/org/"),
        (f"org chart, a manager of {BIG_TEAM + FANOUT} reports", f"/people/{big}/org/"),
        ("spaces (yours)", "/spaces/"),
        ("space page, 50,000 members (first page)", "/spaces/space-00/"),
        ("account", "/account/"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    scim_setup.DATABASE_URL = os.environ["BENCH_DATABASE_URL"]
    scim_setup.SERVER_ENV["DATABASE_URL"] = scim_setup.DATABASE_URL
    scim_setup.recreate_database()
    scim_setup.setup_django()

    from django.db import connection
    from django.test import Client

    from users.models import User
    from users.selectors import PEOPLE_ORDER

    print(f"machine: {scim_setup.machine()}")
    started = time.perf_counter()
    data = seed(args.users)
    ids: list[uuid.UUID] = data["ids"]  # type: ignore[assignment]
    print(f"seeded {args.users} users in {time.perf_counter() - started:.1f} s")
    client = Client(HTTP_HOST=f"{scim_setup.HOST}:{scim_setup.PORT}")
    client.force_login(User.objects.get(pk=ids[-2]))  # a leaf, in the 50,000-member space
    print("\n| page | p50 | p95 |\n|---|---|---|")
    for label, path in pages(ids):
        p50, p95 = measure(client, path, args.requests)
        print(f"| {label} | {p50:.1f} ms | {p95:.1f} ms |", flush=True)
    for query in ("engineer", f"weber{(len(ids) - 3) // 120}", "lisbon", "sales ines"):
        queryset = _search_queryset(query)
        sql, params = queryset.order_by(*PEOPLE_ORDER)[:26].query.sql_with_params()
        explain(f"{query!r}: one query, as the planner would choose", sql, list(params))
        probe = queryset.order_by().values_list("pk", flat=True)[:501]
        sql, params = probe.query.sql_with_params()
        explain(
            f"{query!r}: the trigram probe people_search runs first",
            sql,
            list(params),
            "SET LOCAL enable_indexscan = off; SET LOCAL enable_seqscan = off",
        )
    connection.close()


def _search_queryset(query: str):  # type: ignore[no-untyped-def]
    from users.models import User
    from users.search import PeopleSearchText
    from users.selectors import search_terms

    people = User.objects.filter(is_active=True).annotate(search=PeopleSearchText())
    for term in search_terms(query):
        people = people.filter(search__contains=term)
    return people


if __name__ == "__main__":
    main()
