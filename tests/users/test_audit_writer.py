"""The audit trail's one writer (users.services.audit): single, many and set-based."""

import re
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from axero_idp.request_id import _current as request_id_var
from personas.models import Space, SpaceMembership
from personas.services.removals import audit_memberships_removed
from tests.factories import UserFactory
from users.models import AuditEvent
from users.services import Actor, audit_record_from_select, audit_record_many

pytestmark = pytest.mark.django_db

ACTOR = Actor.scim("okta")
ROOT = Path(__file__).resolve().parents[2]
APPS = ("axero_idp", "users", "sso", "scim", "media", "personas", "events", "portal")


def test_many_events_are_one_insert_per_thousand_written_behind():
    users = UserFactory.create_batch(3)
    entries = [("user.touched", users[n % 3], {"n": n}) for n in range(2500)]
    rows = AuditEvent.objects.filter(action="user.touched").order_by("id")
    with CaptureQueriesContext(connection) as ctx:
        audit_record_many(actor=ACTOR, entries=entries)
        assert rows.count() == 2500
    # No round trip of their own: three INSERTs ride in front of the next statement.
    [carrier] = ctx.captured_queries
    *inserts, count = carrier["sql"].split(";\n")
    assert [s.split(" VALUES ")[0].split(" (")[0] for s in inserts] == [
        'INSERT INTO "users_auditevent"'
    ] * 3
    assert count.startswith("SELECT COUNT(*)")
    last = rows.last()
    assert (last.actor_kind, last.actor_name, last.target_type, last.target_id, last.detail) == (
        "scim",
        "okta",
        "user",
        str(users[2499 % 3].pk),
        {"n": 2499},
    )


def test_insert_from_select_writes_one_event_per_row_in_one_statement(
    django_assert_num_queries,
):
    token = request_id_var.set("req-12345")
    try:
        with django_assert_num_queries(1):
            written = audit_record_from_select(
                actor=ACTOR,
                action="thing.counted",
                rows_sql=(
                    "SELECT 'thing' AS target_type, n::text AS target_id,"
                    " jsonb_build_object('n', n) AS detail FROM generate_series(1, %s) n"
                ),
                rows_params=[40],
            )
    finally:
        request_id_var.reset(token)
    assert written == 40
    rows = AuditEvent.objects.filter(action="thing.counted").order_by("id")
    assert [(r.target_id, r.detail) for r in rows[:2]] == [("1", {"n": 1}), ("2", {"n": 2})]
    assert {(r.actor_kind, r.actor_name, r.target_type, r.request_id) for r in rows} == {
        ("scim", "okta", "thing", "req-12345")
    }


@pytest.mark.parametrize("members", [3, 300])
def test_removed_memberships_cost_the_same_statements_for_3_or_300(
    members, django_assert_num_queries
):
    space = Space.objects.create(slug="hq", name="HQ")
    SpaceMembership.objects.bulk_create(
        [
            SpaceMembership(space=space, user=u, source="manual")
            for u in UserFactory.create_batch(members)
        ]
    )
    # One statement per membership sink (the events outbox) and one for the audit rows.
    with django_assert_num_queries(2):
        written = audit_memberships_removed(
            memberships=SpaceMembership.objects.filter(space=space), actor=ACTOR
        )
    assert written == members
    assert AuditEvent.objects.filter(action="space.member_removed").count() == members


def test_nothing_but_the_audit_writer_writes_audit_rows():
    """One spelling of the audit columns: no other module inserts AuditEvent rows."""
    writes = re.compile(
        r"(?<!class )AuditEvent\(|AuditEvent\.objects\.(create|bulk_create)|INSERT INTO \{AUDIT"
        r"|AuditEvent\._meta\.db_table"
    )
    offenders = [
        str(path.relative_to(ROOT))
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts
        and path != ROOT / "users/services/audit.py"
        and writes.search(path.read_text())
    ]
    assert offenders == []
