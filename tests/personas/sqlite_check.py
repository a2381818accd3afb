"""Run by test_sqlite.py in a subprocess on a fresh SQLite database (`make run`'s engine):
every operator kind compiles and matches there too, and evaluation, per-user evaluation,
import and delete work. Prints "ok" or the mismatches."""

from __future__ import annotations

import datetime as dt
import json
import sys

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from personas.models import Persona, SpaceMembership  # noqa: E402
from personas.rules import compile_rule  # noqa: E402
from personas.services import (  # noqa: E402
    persona_delete,
    persona_evaluate,
    persona_evaluate_for_users,
    personas_import,
)
from users.models import CustomField, User  # noqa: E402
from users.services import (  # noqa: E402
    Actor,
    custom_field_define,
    role_create,
    role_members_add,
    user_create,
)

CASES = [
    ({"attr": "department", "op": "eq", "value": "r&d"}, {"ada"}),
    ({"attr": "department", "op": "ne", "value": "r&d"}, {"boss", "bob"}),
    ({"attr": "email", "op": "eq", "value": "boss@example.com"}, {"boss"}),
    ({"attr": "title", "op": "startswith", "value": "senior"}, {"ada"}),
    ({"attr": "hire_date", "op": "within_days", "value": 30}, {"ada"}),
    ({"not": {"attr": "hire_date", "op": "within_days", "value": 30}}, {"boss", "bob"}),
    ({"attr": "hire_date", "op": "before", "value": "2026-01-01"}, set()),
    ({"attr": "manager", "op": "eq", "value": "BOSS@example.com"}, {"ada"}),
    ({"attr": "manager", "op": "ne", "value": "boss"}, {"boss", "bob"}),
    ({"attr": "roles", "op": "contains", "value": "engineering"}, {"ada"}),
    ({"attr": "roles", "op": "exists", "value": False}, {"boss", "bob"}),
    ({"attr": "custom.persona", "op": "eq", "value": "Engineer"}, {"ada"}),
    ({"attr": "custom.persona", "op": "ne", "value": "Engineer"}, {"boss", "bob"}),
    ({"attr": "custom.persona", "op": "startswith", "value": "eng"}, {"ada", "bob"}),
    ({"not": {"attr": "custom.persona", "op": "startswith", "value": "eng"}}, {"boss"}),
    ({"attr": "custom.start", "op": "within_days", "value": 28}, {"ada"}),
    ({"not": {"attr": "custom.start", "op": "within_days", "value": 28}}, {"boss", "bob"}),
    ({"attr": "custom.level", "op": "eq", "value": 1}, {"bob"}),
    ({"attr": "custom.level", "op": "ne", "value": 1}, {"boss", "ada"}),
    ({"attr": "custom.remote", "op": "eq", "value": False}, {"bob"}),
    ({"attr": "custom.badges", "op": "contains", "value": "gold"}, {"ada"}),
    ({"not": {"attr": "custom.badges", "op": "contains", "value": "gold"}}, {"boss", "bob"}),
    ({"attr": "custom.badges", "op": "in", "value": ["bronze", "silver"]}, {"ada", "bob"}),
    ({"attr": "active", "op": "eq", "value": False}, set()),
]


def _events_problems() -> list[str]:
    """The events outbox works here too (portable snapshot and stamping)."""
    from events.delivery import event_payload
    from events.selectors import events_page
    from events.sequencing import events_stamp

    events_stamp()
    page, _ = events_page(after=0, types=[], limit=1000)
    payloads = [event_payload(e) for e in page]
    seen = {p["type"] for p in payloads}
    wanted = {"user.created", "role.members_changed", "space.member_added", "space.member_removed"}
    created = [p["data"]["user"]["userName"] for p in payloads if p["type"] == "user.created"]
    problems = [f"events: missing {sorted(wanted - seen)}"] if wanted - seen else []
    if created != ["boss", "ada", "bob"]:
        problems.append(f"events: created {created}")
    return problems


def main() -> int:
    call_command("migrate", verbosity=0)
    actor = Actor.system("sqlite-check")
    for key, kind in [
        ("persona", "string"),
        ("start", "date"),
        ("level", "number"),
        ("remote", "boolean"),
        ("badges", "list"),
    ]:
        custom_field_define(key=key, type=kind, actor=actor)
    fields = {f.key: f for f in CustomField.objects.all()}
    user_create(
        actor=actor, source="scim", username="boss", attributes={"email": "Boss@Example.com"}
    )
    ada = user_create(
        actor=actor,
        source="scim",
        username="ada",
        attributes={"department": "R&D", "title": "Senior Engineer", "hire_date": "2026-02-19"},
        custom={
            "persona": "Engineer",
            "start": "2026-02-01",
            "level": 3,
            "remote": True,
            "badges": ["gold", "silver"],
        },
        manager_ref="boss",
    )
    bob = user_create(
        actor=actor,
        source="scim",
        username="bob",
        attributes={"department": "Sales"},
        custom={"persona": "engineer", "level": 1, "remote": False, "badges": ["bronze"]},
    )
    role = role_create(actor=actor, display_name="Engineering")
    role_members_add(role=role, user_ids=[ada.pk], source="scim", actor=actor)
    today = dt.date(2026, 3, 1)
    problems = []
    for rule, expected in CASES:
        q = compile_rule(rule, custom_fields=fields, today=today, vendor=connection.vendor)
        got = set(User.objects.filter(q).values_list("username", flat=True))
        if got != expected:
            problems.append(f"{json.dumps(rule)}: {sorted(got)} != {sorted(expected)}")
    document = {
        "spaces": [{"slug": "eng", "name": "Eng"}],
        "personas": [
            {
                "slug": "eng",
                "name": "Eng",
                "rule": {"attr": "roles", "op": "contains", "value": "engineering"},
                "spaces": [{"space": "eng", "role": "member"}],
            }
        ],
    }
    summary = personas_import(document=document, actor=actor)
    if [(r.added, r.removed) for r in summary.evaluations] != [(1, 0)]:
        problems.append(f"import: {summary.evaluations}")
    # Celery is eager here (`make run`): the event's drain ran inline on commit.
    role_members_add(role=role, user_ids=[bob.pk], source="scim", actor=actor)
    if sorted(SpaceMembership.objects.values_list("user__username", flat=True)) != ["ada", "bob"]:
        problems.append("the role change did not reach the space")
    persona = Persona.objects.get(slug="eng")
    rerun = persona_evaluate(persona=persona, actor=actor)
    per_user = persona_evaluate_for_users(user_ids=[ada.pk, bob.pk], actor=actor)
    if (rerun.added, rerun.removed) != (0, 0) or [(r.added, r.removed) for r in per_user] != [
        (0, 0)
    ]:
        problems.append(f"reruns changed something: {rerun} {per_user}")
    if persona_delete(persona=persona, actor=actor) != 2:
        problems.append("delete did not remove both memberships")
    problems += _events_problems()
    print("\n".join(problems) or "ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
