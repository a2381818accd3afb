"""Rule validation: every refusal names the path of the problem, exactly."""

import pytest

from axero_idp.errors import ValidationFailed
from personas.rules import validate_rule
from tests.factories import CustomFieldFactory

pytestmark = pytest.mark.django_db


def fields():
    return {
        f.key: f
        for f in (
            CustomFieldFactory(key="persona", type="string"),
            CustomFieldFactory(key="start", type="date"),
            CustomFieldFactory(key="level", type="number"),
            CustomFieldFactory(key="remote", type="boolean"),
            CustomFieldFactory(key="badges", type="list"),
        )
    }


def refusal(rule, path="rule"):
    with pytest.raises(ValidationFailed) as caught:
        validate_rule(rule, custom_fields=fields(), path=path)
    return caught.value.detail


def test_unknown_operator_is_named_with_its_full_path():
    rule = {
        "all": [
            {"attr": "title", "op": "eq", "value": "Engineer"},
            {"attr": "department", "op": "foo", "value": "x"},
        ]
    }
    assert refusal(rule, "personas[0].rule") == 'personas[0].rule.all[1].op: unknown operator "foo"'


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            [],
            'rule: expected an object: {"all": [...]}, {"any": [...]}, {"not": rule} or {"attr", "op", "value"}',
        ),
        ({"all": []}, "rule.all: expected a non-empty list of rules"),
        ({"any": {"attr": "title"}}, "rule.any: expected a non-empty list of rules"),
        (
            {"all": [{"attr": "title", "op": "exists"}], "any": []},
            'rule: a group has exactly one key, "all", "any" given',
        ),
        (
            {"not": {"attr": "nickname", "op": "eq", "value": "x"}},
            'rule.not.attr: unknown attribute "nickname"; use one of email, first_name, last_name, title, department, employee_number, hire_date, manager, roles, active or custom.<key>',
        ),
        (
            {"attr": "custom.shoe_size", "op": "eq", "value": "x"},
            'rule.attr: no custom profile field "shoe_size" (define it with `manage.py custom_field add`)',
        ),
        ({"attr": "title", "value": "x"}, "rule.op: required"),
        ({"op": "eq", "value": "x"}, "rule.attr: required"),
        ({"attr": 3, "op": "eq", "value": "x"}, "rule.attr: expected text"),
        ({"attr": "title", "op": "eq", "value": "x", "extra": 1}, 'rule: unknown key "extra"'),
        ({"attr": "title", "op": "eq"}, "rule.value: required"),
        (
            {"attr": "title", "op": "within_days", "value": 3},
            'rule.op: operator "within_days" does not apply to title (text); use one of eq, ne, in, contains, startswith, exists',
        ),
        (
            {"attr": "hire_date", "op": "within_days", "value": -1},
            "rule.value: expected a whole number of days from 0 to 36500, got -1",
        ),
        (
            {"attr": "hire_date", "op": "within_days", "value": "30"},
            'rule.value: expected a whole number of days from 0 to 36500, got "30"',
        ),
        (
            {"attr": "hire_date", "op": "older_than_days", "value": True},
            "rule.value: expected a whole number of days from 0 to 36500, got True",
        ),
        (
            {"attr": "hire_date", "op": "older_than_days", "value": 1.5},
            "rule.value: expected a whole number of days from 0 to 36500, got 1.5",
        ),
        (
            {"attr": "hire_date", "op": "before", "value": "2024-02-30"},
            'rule.value: expected a date as YYYY-MM-DD, got "2024-02-30"',
        ),
        (
            {"attr": "hire_date", "op": "eq", "value": "3/1/2024"},
            'rule.value: expected a date as YYYY-MM-DD, got "3/1/2024"',
        ),
        (
            {"attr": "hire_date", "op": "contains", "value": "2024"},
            'rule.op: operator "contains" does not apply to hire_date (date); use one of eq, ne, before, after, within_days, older_than_days, exists',
        ),
        (
            {"attr": "roles", "op": "eq", "value": "Engineering"},
            'rule.op: operator "eq" does not apply to roles (roles); use one of contains, in, exists',
        ),
        (
            {"attr": "roles", "op": "in", "value": "Engineering"},
            "rule.value: expected a non-empty list",
        ),
        ({"attr": "roles", "op": "in", "value": []}, "rule.value: expected a non-empty list"),
        (
            {"attr": "roles", "op": "in", "value": ["A", 2]},
            "rule.value[1]: expected non-empty text",
        ),
        ({"attr": "title", "op": "in", "value": ["x"] * 501}, "rule.value: more than 500 values"),
        ({"attr": "title", "op": "eq", "value": ""}, "rule.value: expected non-empty text"),
        (
            {"attr": "title", "op": "eq", "value": "x" * 501},
            "rule.value: longer than 500 characters",
        ),
        ({"attr": "active", "op": "eq", "value": "yes"}, "rule.value: expected true or false"),
        (
            {"attr": "active", "op": "exists", "value": True},
            'rule.op: operator "exists" does not apply to active (boolean); use one of eq, ne',
        ),
        ({"attr": "title", "op": "exists", "value": "yes"}, "rule.value: expected true or false"),
        (
            {"attr": "manager", "op": "before", "value": "2024-01-01"},
            'rule.op: operator "before" does not apply to manager (manager); use one of eq, ne, in, exists',
        ),
        ({"attr": "custom.level", "op": "eq", "value": "3"}, "rule.value: expected a number"),
        (
            {"attr": "custom.level", "op": "startswith", "value": "3"},
            'rule.op: operator "startswith" does not apply to custom.level (number); use one of eq, ne, in, exists',
        ),
        ({"attr": "custom.remote", "op": "eq", "value": 1}, "rule.value: expected true or false"),
        (
            {"attr": "custom.badges", "op": "eq", "value": "x"},
            'rule.op: operator "eq" does not apply to custom.badges (list); use one of contains, in, exists',
        ),
        (
            {"attr": "custom.persona", "op": "within_days", "value": 3},
            'rule.op: operator "within_days" does not apply to custom.persona (text); use one of eq, ne, in, contains, startswith, exists',
        ),
        (
            {"attr": "custom.start", "op": "after", "value": 2024},
            "rule.value: expected a date as YYYY-MM-DD, got 2024",
        ),
    ],
)
def test_refusals_name_the_path_and_the_reason(rule, message):
    assert refusal(rule) == message


def test_depth_is_limited():
    rule = {"attr": "title", "op": "exists"}
    for _ in range(8):
        rule = {"not": rule}
    assert refusal(rule) == "rule.not.not.not.not.not.not.not.not: nested deeper than 8 levels"


def test_number_of_conditions_is_limited():
    rule = {"any": [{"attr": "title", "op": "eq", "value": f"t{i}"} for i in range(201)]}
    assert refusal(rule) == "rule.any[200]: more than 200 conditions in one rule"


@pytest.mark.parametrize(
    "condition",
    [
        {"attr": "email", "op": "eq", "value": "a@example.com"},
        {"attr": "first_name", "op": "ne", "value": "Ada"},
        {"attr": "last_name", "op": "in", "value": ["Lovelace", "Hopper"]},
        {"attr": "title", "op": "contains", "value": "engineer"},
        {"attr": "department", "op": "startswith", "value": "R&"},
        {"attr": "employee_number", "op": "exists", "value": False},
        {"attr": "hire_date", "op": "after", "value": "2024-01-01"},
        {"attr": "hire_date", "op": "within_days", "value": 0},
        {"attr": "hire_date", "op": "older_than_days", "value": 36500},
        {"attr": "manager", "op": "in", "value": ["boss@example.com"]},
        {"attr": "roles", "op": "exists"},
        {"attr": "active", "op": "ne", "value": True},
        {"attr": "custom.persona", "op": "in", "value": ["Engineer"]},
        {"attr": "custom.start", "op": "within_days", "value": 30},
        {"attr": "custom.level", "op": "in", "value": [1, 2.5]},
        {"attr": "custom.remote", "op": "eq", "value": False},
        {"attr": "custom.badges", "op": "contains", "value": "gold"},
    ],
)
def test_every_attribute_kind_accepts_its_operators(condition):
    info = validate_rule({"all": [condition]}, custom_fields=fields())
    assert info.conditions == 1


def test_rule_info_reports_time_rules_and_active():
    info = validate_rule(
        {
            "any": [
                {"attr": "hire_date", "op": "within_days", "value": 90},
                {"not": {"attr": "active", "op": "eq", "value": True}},
            ]
        },
        custom_fields={},
    )
    assert (info.has_time_rule, info.mentions_active, info.conditions) == (True, True, 2)
    plain = validate_rule(
        {"attr": "hire_date", "op": "before", "value": "2024-01-01"}, custom_fields={}
    )
    assert (plain.has_time_rule, plain.mentions_active) == (False, False)
