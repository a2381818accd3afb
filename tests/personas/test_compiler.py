"""Each operator on each attribute kind, compiled and run on PostgreSQL."""

import datetime as dt

import pytest

from personas.rules import compile_rule, validate_rule
from tests.factories import CustomFieldFactory, RoleFactory, RoleMembershipFactory, UserFactory
from users.models import User

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 3, 1)


@pytest.fixture
def people():
    fields = {
        f.key: f
        for f in (
            CustomFieldFactory(key="persona", type="string"),
            CustomFieldFactory(key="start", type="date"),
            CustomFieldFactory(key="level", type="number"),
            CustomFieldFactory(key="remote", type="boolean"),
            CustomFieldFactory(key="badges", type="list"),
        )
    }
    boss = UserFactory(username="boss", email="Boss@Example.com", title="CEO")
    ada = UserFactory(
        username="ada",
        email="ada@example.com",
        title="Senior Engineer",
        department="R&D",
        employee_number="E-1",
        hire_date=TODAY - dt.timedelta(days=10),
        manager=boss,
        custom={
            "persona": "Engineer",
            "start": "2026-02-01",
            "level": 3,
            "remote": True,
            "badges": ["gold", "silver"],
        },
    )
    bob = UserFactory(
        username="bob",
        email="bob@example.com",
        title="Sales Lead",
        department="Sales",
        hire_date=TODAY - dt.timedelta(days=400),
        custom={
            "persona": "engineer",
            "start": "2024-05-01",
            "level": 1.0,
            "remote": False,
            "badges": ["bronze"],
        },
    )
    UserFactory(
        username="cy",
        email="cy@example.com",
        title="",
        department="r&d",
        hire_date=TODAY - dt.timedelta(days=90),
    )
    UserFactory(username="gone", department="R&D", is_active=False, hire_date=TODAY)
    engineering = RoleFactory(display_name="Engineering")
    RoleMembershipFactory(role=engineering, user=ada, source="scim")
    RoleMembershipFactory(role=RoleFactory(display_name="Sales"), user=bob, source="saml:onelogin")
    return fields


def match(rule, fields):
    validate_rule(rule, custom_fields=fields)
    q = compile_rule(rule, custom_fields=fields, today=TODAY)
    return set(User.objects.filter(q).values_list("username", flat=True))


EVERYONE = {"boss", "ada", "bob", "cy"}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        # built-in text: case-insensitive
        ({"attr": "email", "op": "eq", "value": "BOSS@example.COM"}, {"boss"}),
        ({"attr": "department", "op": "eq", "value": "r&d"}, {"ada", "cy"}),
        ({"attr": "department", "op": "ne", "value": "R&D"}, {"boss", "bob"}),
        ({"attr": "department", "op": "in", "value": ["sales", "nowhere"]}, {"bob"}),
        ({"attr": "title", "op": "contains", "value": "ENGINEER"}, {"ada"}),
        ({"attr": "title", "op": "startswith", "value": "sales"}, {"bob"}),
        ({"attr": "title", "op": "startswith", "value": "%"}, set()),
        ({"attr": "title", "op": "exists"}, {"boss", "ada", "bob"}),
        ({"attr": "employee_number", "op": "exists", "value": False}, {"boss", "bob", "cy"}),
        # dates
        ({"attr": "hire_date", "op": "eq", "value": "2026-02-19"}, {"ada"}),
        ({"attr": "hire_date", "op": "ne", "value": "2026-02-19"}, {"boss", "bob", "cy"}),
        ({"attr": "hire_date", "op": "before", "value": "2026-01-01"}, {"bob", "cy"}),
        ({"attr": "hire_date", "op": "after", "value": "2026-01-01"}, {"ada"}),
        ({"attr": "hire_date", "op": "within_days", "value": 90}, {"ada", "cy"}),
        ({"attr": "hire_date", "op": "within_days", "value": 89}, {"ada"}),
        ({"attr": "hire_date", "op": "older_than_days", "value": 89}, {"bob", "cy"}),
        ({"attr": "hire_date", "op": "older_than_days", "value": 90}, {"bob"}),
        ({"attr": "hire_date", "op": "exists", "value": False}, {"boss"}),
        ({"not": {"attr": "hire_date", "op": "within_days", "value": 30}}, {"boss", "bob", "cy"}),
        # manager: by username, email or id, case-insensitively
        ({"attr": "manager", "op": "eq", "value": "BOSS"}, {"ada"}),
        ({"attr": "manager", "op": "eq", "value": "boss@example.com"}, {"ada"}),
        ({"attr": "manager", "op": "ne", "value": "boss"}, {"boss", "bob", "cy"}),
        ({"attr": "manager", "op": "in", "value": ["nobody", "boss"]}, {"ada"}),
        ({"attr": "manager", "op": "exists"}, {"ada"}),
        # roles: case-insensitive names, any source
        ({"attr": "roles", "op": "contains", "value": "engineering"}, {"ada"}),
        ({"attr": "roles", "op": "in", "value": ["SALES", "Engineering"]}, {"ada", "bob"}),
        ({"attr": "roles", "op": "exists", "value": False}, {"boss", "cy"}),
        ({"not": {"attr": "roles", "op": "contains", "value": "Sales"}}, {"boss", "ada", "cy"}),
        # active: deactivated users match only when the rule asks
        ({"attr": "department", "op": "eq", "value": "R&D"}, {"ada", "cy"}),
        (
            {
                "all": [
                    {"attr": "department", "op": "eq", "value": "R&D"},
                    {"attr": "active", "op": "eq", "value": False},
                ]
            },
            {"gone"},
        ),
        ({"attr": "active", "op": "ne", "value": False}, EVERYONE),
        # custom text: exact equality (GIN containment), case-insensitive contains/startswith
        ({"attr": "custom.persona", "op": "eq", "value": "Engineer"}, {"ada"}),
        ({"attr": "custom.persona", "op": "ne", "value": "Engineer"}, {"boss", "bob", "cy"}),
        ({"attr": "custom.persona", "op": "in", "value": ["Engineer", "engineer"]}, {"ada", "bob"}),
        ({"attr": "custom.persona", "op": "startswith", "value": "ENG"}, {"ada", "bob"}),
        ({"attr": "custom.persona", "op": "contains", "value": "gine"}, {"ada", "bob"}),
        ({"attr": "custom.persona", "op": "exists"}, {"ada", "bob"}),
        ({"not": {"attr": "custom.persona", "op": "startswith", "value": "eng"}}, {"boss", "cy"}),
        # custom date (ISO text)
        ({"attr": "custom.start", "op": "before", "value": "2025-01-01"}, {"bob"}),
        ({"attr": "custom.start", "op": "after", "value": "2025-01-01"}, {"ada"}),
        ({"attr": "custom.start", "op": "eq", "value": "2026-02-01"}, {"ada"}),
        ({"attr": "custom.start", "op": "within_days", "value": 28}, {"ada"}),
        ({"attr": "custom.start", "op": "within_days", "value": 27}, set()),
        ({"attr": "custom.start", "op": "older_than_days", "value": 100}, {"bob"}),
        (
            {"not": {"attr": "custom.start", "op": "older_than_days", "value": 100}},
            {"boss", "ada", "cy"},
        ),
        # custom number and boolean
        ({"attr": "custom.level", "op": "eq", "value": 3}, {"ada"}),
        ({"attr": "custom.level", "op": "eq", "value": 1}, {"bob"}),
        ({"attr": "custom.level", "op": "in", "value": [1, 3]}, {"ada", "bob"}),
        ({"attr": "custom.level", "op": "ne", "value": 3}, {"boss", "bob", "cy"}),
        ({"attr": "custom.remote", "op": "eq", "value": True}, {"ada"}),
        ({"attr": "custom.remote", "op": "ne", "value": True}, {"boss", "bob", "cy"}),
        ({"attr": "custom.remote", "op": "exists", "value": False}, {"boss", "cy"}),
        # custom list
        ({"attr": "custom.badges", "op": "contains", "value": "gold"}, {"ada"}),
        ({"attr": "custom.badges", "op": "contains", "value": "GOLD"}, set()),
        ({"attr": "custom.badges", "op": "in", "value": ["bronze", "silver"]}, {"ada", "bob"}),
        (
            {"not": {"attr": "custom.badges", "op": "contains", "value": "gold"}},
            {"boss", "bob", "cy"},
        ),
        # groups
        (
            {
                "any": [
                    {"attr": "title", "op": "eq", "value": "CEO"},
                    {"attr": "roles", "op": "contains", "value": "Sales"},
                ]
            },
            {"boss", "bob"},
        ),
        (
            {
                "all": [
                    {"attr": "department", "op": "eq", "value": "R&D"},
                    {"not": {"attr": "roles", "op": "exists"}},
                ]
            },
            {"cy"},
        ),
    ],
)
def test_condition_matches_exactly(people, rule, expected):
    assert match(rule, people) == expected


def test_custom_equality_is_json_containment_on_postgresql(people):
    q = compile_rule(
        {"attr": "custom.persona", "op": "eq", "value": "Engineer"},
        custom_fields=people,
        today=TODAY,
    )
    sql, params = User.objects.filter(q).values("id").query.sql_with_params()
    assert '"users_user"."custom" @> %s' in sql
    assert '{"persona": "Engineer"}' in [str(p) for p in params] or any(
        "Engineer" in str(p) for p in params
    )


def test_a_rule_naming_a_field_that_no_longer_exists_matches_nobody(people):
    q = compile_rule(
        {"attr": "custom.gone", "op": "exists"},
        custom_fields=people,
        today=TODAY,
    )
    assert User.objects.filter(q).count() == 0
