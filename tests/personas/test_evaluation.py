"""Set-based evaluation: joiners, leavers, several reasons, audit, time rules."""

import datetime as dt

import pytest

from events.models import Event
from personas.models import Persona, Space, SpaceMembership
from personas.services import (
    SpaceGrant,
    pending_drain,
    persona_delete,
    persona_evaluate_for_users,
    persona_upsert,
    space_member_add,
)
from tests.factories import RoleFactory, RoleMembershipFactory, UserFactory
from tests.personas.conftest import TODAY, members, reasons
from users.models import AuditEvent
from users.services import Actor, role_members_add

pytestmark = pytest.mark.django_db

SALES = {"attr": "department", "op": "eq", "value": "Sales"}
NEW = {"attr": "hire_date", "op": "within_days", "value": 30}


def test_first_evaluation_adds_matches_and_a_rerun_changes_nothing(define, evaluate):
    UserFactory(username="ann", department="Sales")
    UserFactory(username="ben", department="sales")
    UserFactory(username="cat", department="R&D")
    persona = define("sales", SALES)
    first = evaluate(persona)
    again = evaluate(persona)
    assert (first.added, first.removed, again.added, again.removed) == (2, 0, 0, 0)
    assert members() == {"ann", "ben"}


def test_leavers_are_removed_and_joiners_added(define, evaluate):
    ann = UserFactory(username="ann", department="Sales")
    ben = UserFactory(username="ben", department="R&D")
    persona = define("sales", SALES)
    evaluate(persona)
    ann.department, ben.department = "R&D", "Sales"
    ann.save()
    ben.save()
    result = evaluate(persona)
    assert (result.added, result.removed) == (1, 1)
    assert members() == {"ben"}


def test_an_evaluation_is_one_summary_event_and_each_member_change_is_in_the_feed(
    define, evaluate, actor
):
    ann = UserFactory(username="ann", department="Sales")
    persona = define("sales", SALES, spaces=("deals",), role="contributor")
    evaluate(persona)
    [joined] = Event.objects.filter(type="space.member_added")
    assert joined.data == {
        "space": {"id": Space.objects.get(slug="deals").pk, "slug": "deals"},
        "user": {"id": str(ann.pk)},
        "role": "contributor",
        "source": "persona",
        "persona": "sales",
    }
    ann.department = "R&D"
    ann.save()
    evaluate(persona)
    [left] = Event.objects.filter(type="space.member_removed")
    assert (left.data["user"], left.data["space"]["slug"]) == ({"id": str(ann.pk)}, "deals")
    evaluate(persona)  # nothing changes: no summary either
    events = AuditEvent.objects.exclude(action__in=["space.created", "persona.created"])
    assert [(e.action, e.target_id, e.actor_name, e.detail) for e in events.order_by("id")] == [
        (
            "persona.evaluated",
            str(persona.pk),
            "tests",
            {"added": 1, "removed": 0, "scope": "all", "spaces": {"deals": {"added": 1}}},
        ),
        (
            "persona.evaluated",
            str(persona.pk),
            "tests",
            {"added": 0, "removed": 1, "scope": "all", "spaces": {"deals": {"removed": 1}}},
        ),
    ]


def test_two_personas_into_one_space_keep_both_reasons(define, evaluate):
    UserFactory(username="ann", department="Sales", hire_date=TODAY)
    UserFactory(username="ben", department="Sales")
    sales = define("sales", SALES)
    new = define("new", NEW)
    evaluate(sales)
    evaluate(new)
    assert reasons() == {
        ("ann", "persona", "sales"),
        ("ann", "persona", "new"),
        ("ben", "persona", "sales"),
    }


def test_losing_one_reason_keeps_the_other(define, evaluate, actor):
    ann = UserFactory(username="ann", department="Sales", hire_date=TODAY)
    sales = define("sales", SALES)
    new = define("new", NEW)
    evaluate(sales)
    evaluate(new)
    space_member_add(space=Space.objects.get(slug="space"), user=ann, actor=actor)
    ann.department = "R&D"
    ann.save()
    evaluate(sales)
    assert reasons() == {("ann", "persona", "new"), ("ann", "manual", None)}


def test_time_rules_move_with_today(define, evaluate):
    UserFactory(username="ann", hire_date=dt.date(2026, 2, 1))
    persona = define("new", NEW)
    assert evaluate(persona, today=dt.date(2026, 3, 3)).added == 1
    assert evaluate(persona, today=dt.date(2026, 3, 4)).removed == 1
    assert members() == set()
    assert Persona.objects.get(pk=persona.pk).has_time_rule is True


def test_deactivated_users_leave_unless_the_rule_mentions_active(define, evaluate):
    ann = UserFactory(username="ann", department="Sales")
    sales = define("sales", SALES)
    leavers = define("leavers", {"attr": "active", "op": "eq", "value": False}, spaces=("alumni",))
    evaluate(sales)
    ann.is_active = False
    ann.save()
    assert evaluate(sales).removed == 1
    assert evaluate(leavers).added == 1
    assert members("alumni") == {"ann"}


def test_evaluation_for_users_touches_only_those_users(define, evaluate, actor):
    ann = UserFactory(username="ann", department="Sales")
    ben = UserFactory(username="ben", department="Sales")
    sales = define("sales", SALES)
    evaluate(sales)
    ann.department = ben.department = "R&D"
    ann.save()
    ben.save()
    results = persona_evaluate_for_users(user_ids=[ann.pk], actor=actor, today=TODAY)
    assert [(r.persona, r.added, r.removed) for r in results] == [("sales", 0, 1)]
    assert members() == {"ben"}
    summary = AuditEvent.objects.filter(action="persona.evaluated").latest("id")
    assert summary.detail == {
        "added": 0,
        "removed": 1,
        "scope": 1,
        "spaces": {"space": {"removed": 1}},
    }


def test_a_space_dropped_from_a_persona_loses_its_members(define, evaluate, actor):
    UserFactory(username="ann", department="Sales")
    sales = define("sales", SALES, spaces=("a", "b"))
    evaluate(sales)
    persona_upsert(
        slug="sales",
        name="Sales",
        rule=SALES,
        spaces=[SpaceGrant(space="b", role="moderator")],
        actor=actor,
        schedule_evaluation=False,
    )
    result = evaluate(sales)
    assert (result.added, result.removed) == (0, 1)
    assert members("a") == set()
    assert set(SpaceMembership.objects.values_list("space__slug", "role")) == {("b", "moderator")}


def test_role_membership_drives_a_persona(define, evaluate):
    role = RoleFactory(display_name="Engineering")
    ann = UserFactory(username="ann")
    RoleMembershipFactory(role=role, user=ann, source="scim")
    persona = define("eng", {"attr": "roles", "op": "contains", "value": "ENGINEERING"})
    assert evaluate(persona).added == 1


def test_deleting_a_persona_removes_and_audits_its_memberships(define, evaluate, actor):
    ann = UserFactory(username="ann", department="Sales")
    sales = define("sales", SALES)
    evaluate(sales)
    assert persona_delete(persona=sales, actor=actor) == 1
    assert members() == set()
    event = AuditEvent.objects.filter(action="space.member_removed").get()
    assert (event.target_id, event.detail) == (
        str(ann.pk),
        {"space": "space", "persona": "sales", "source": "persona", "role": "member"},
    )
    assert AuditEvent.objects.filter(action="persona.deleted").count() == 1


def test_evaluation_costs_the_same_number_of_queries_for_3_or_300_users(
    define, evaluate, django_assert_num_queries
):
    persona = define("sales", SALES, spaces=("a", "b"))
    UserFactory.create_batch(3, department="Sales")
    # Round trips: the summary's audit row is written behind (axero_idp.db) and rides
    # with a later statement of the evaluation.
    with django_assert_num_queries(13) as small:
        assert evaluate(persona).added == 6
    assert _carrying_an_audit_row(small.captured_queries) == 1
    UserFactory.create_batch(300, department="Sales")
    with django_assert_num_queries(len(small.captured_queries)) as large:
        assert evaluate(persona).added == 600
    assert _carrying_an_audit_row(large.captured_queries) == 1


def _carrying_an_audit_row(queries: list[dict[str, str]]) -> int:
    return sum('INSERT INTO "users_auditevent"' in q["sql"] for q in queries)


def test_a_link_whose_role_changed_moves_its_members_and_counts_them(define, evaluate, actor):
    UserFactory(username="ann", department="Sales")
    UserFactory(username="ben", department="R&D")
    persona = define("sales", SALES, spaces=("deals",))
    evaluate(persona)
    persona_upsert(
        slug="sales",
        name="Sales",
        rule=SALES,
        spaces=[SpaceGrant(space="deals", role="moderator")],
        actor=actor,
        schedule_evaluation=False,
    )
    result = evaluate(persona)
    assert (result.added, result.removed) == (0, 0)
    assert list(SpaceMembership.objects.values_list("user__username", "role")) == [
        ("ann", "moderator")
    ]
    summary = AuditEvent.objects.filter(action="persona.evaluated").latest("id")
    assert summary.detail == {
        "added": 0,
        "removed": 0,
        "scope": "all",
        "spaces": {"deals": {"role_changed": 1}},
    }
    evaluate(persona)
    assert AuditEvent.objects.filter(action="persona.evaluated").count() == 2


def test_evaluating_a_persona_deleted_meanwhile_is_a_no_op(define, evaluate, actor):
    UserFactory(username="ann", department="Sales")
    persona = define("sales", SALES)
    Persona.objects.filter(pk=persona.pk).delete()  # e.g. by an admin, after a drain listed it
    result = evaluate(persona)
    assert (result.persona, result.added, result.removed) == ("sales", 0, 0)
    assert SpaceMembership.objects.count() == 0


def test_a_bulk_push_of_500_members_is_one_persona_audit_event_not_500(define, actor):
    role = RoleFactory(display_name="engineering")
    pushed = [UserFactory(username=f"u{n:03}").pk for n in range(500)]
    persona = define("eng", {"attr": "roles", "op": "contains", "value": "engineering"})
    first_event = AuditEvent.objects.latest("id").pk
    role_members_add(role=role, user_ids=pushed, source="scim", actor=Actor.scim("okta"))
    pending_drain(actor=actor)
    assert len(members()) == 500
    evaluation = AuditEvent.objects.filter(pk__gt=first_event).exclude(action="role.members_added")
    assert [(e.action, e.target_id, e.detail) for e in evaluation] == [
        (
            "persona.evaluated",
            str(persona.pk),
            {"added": 500, "removed": 0, "scope": 500, "spaces": {"space": {"added": 500}}},
        )
    ]
    # Who joined stays queryable, member by member: the memberships and the events feed.
    joined = Event.objects.filter(type="space.member_added").values_list(
        "data__user__id", flat=True
    )
    assert sorted(joined) == sorted(str(pk) for pk in pushed)
