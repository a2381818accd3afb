"""`manage.py personas import PATH` and `manage.py personas evaluate`."""

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from personas.models import Persona, PersonaSpace, Space
from tests.factories import RoleFactory, RoleMembershipFactory, UserFactory
from tests.personas.conftest import members
from users.models import AuditEvent

pytestmark = pytest.mark.django_db

FILE = {
    "spaces": [{"slug": "new-hires", "name": "New Hires"}, {"slug": "sales", "name": "Sales"}],
    "personas": [
        {
            "slug": "sales-team",
            "name": "Sales team",
            "rule": {"attr": "department", "op": "eq", "value": "Sales"},
            "spaces": [
                {"space": "sales", "role": "contributor"},
                {"space": "new-hires", "role": "member"},
            ],
        },
        {
            "slug": "everyone-sales",
            "name": "Sales people",
            "rule": {"any": [{"attr": "title", "op": "startswith", "value": "Sales"}]},
            "spaces": [{"space": "sales"}],
        },
    ],
}


def run(*args):
    out = StringIO()
    call_command("personas", *args, stdout=out)
    return out.getvalue()


def write(tmp_path, document):
    path = tmp_path / "personas.json"
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return str(path)


def test_import_creates_then_is_idempotent(tmp_path):
    UserFactory(username="ann", department="Sales", title="Sales Lead")
    path = write(tmp_path, FILE)
    assert run("import", path) == (
        "spaces: 2 created, 0 updated, 0 unchanged\n"
        "personas: 2 created, 0 updated, 0 unchanged\n"
        "sales-team: +2 -0\n"
        "everyone-sales: +1 -0\n"
    )
    assert members("sales") == {"ann"} and members("new-hires") == {"ann"}
    audit_count = AuditEvent.objects.count()
    assert run("import", path) == (
        "spaces: 0 created, 0 updated, 2 unchanged\n"
        "personas: 0 created, 0 updated, 2 unchanged\n"
        "sales-team: +0 -0\n"
        "everyone-sales: +0 -0\n"
    )
    assert AuditEvent.objects.count() == audit_count
    assert set(PersonaSpace.objects.values_list("persona__slug", "space__slug", "role")) == {
        ("sales-team", "sales", "contributor"),
        ("sales-team", "new-hires", "member"),
        ("everyone-sales", "sales", "member"),
    }


def test_import_updates_by_slug_and_reevaluates(tmp_path):
    UserFactory(username="ann", department="Sales")
    UserFactory(username="ben", department="R&D")
    run("import", write(tmp_path, FILE))
    changed = json.loads(json.dumps(FILE))
    changed["spaces"][0]["name"] = "Newcomers"
    changed["personas"][0]["rule"] = {"attr": "department", "op": "eq", "value": "R&D"}
    assert run("import", write(tmp_path, changed)) == (
        "spaces: 0 created, 1 updated, 1 unchanged\n"
        "personas: 0 created, 1 updated, 1 unchanged\n"
        "sales-team: +2 -2\n"
        "everyone-sales: +0 -0\n"
    )
    assert Space.objects.get(slug="new-hires").name == "Newcomers"
    assert members("new-hires") == {"ben"}


def test_a_bad_file_writes_nothing(tmp_path):
    bad = json.loads(json.dumps(FILE))
    bad["personas"][1]["rule"] = {
        "all": [
            {"attr": "title", "op": "eq", "value": "x"},
            {"attr": "title", "op": "foo", "value": "x"},
        ]
    }
    with pytest.raises(
        CommandError, match=r'^personas\[1\]\.rule\.all\[1\]\.op: unknown operator "foo"$'
    ):
        run("import", write(tmp_path, bad))
    assert (Space.objects.count(), Persona.objects.count(), AuditEvent.objects.count()) == (0, 0, 0)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "not a JSON file"),
        ([], "file: expected an object"),
        ({"spaces": {}}, "spaces: expected a list"),
        ({"colour": 1}, 'file: unknown key "colour"'),
        (
            {"spaces": [{"slug": "Bad Slug", "name": "x"}]},
            "spaces[0].slug: expected a slug (lower-case letters, digits, - and _; at most 64)",
        ),
        (
            {"spaces": [{"slug": "a", "name": "A"}, {"slug": "a", "name": "B"}]},
            'spaces[1].slug: "a" is listed twice',
        ),
        ({"spaces": [{"slug": "a"}]}, "spaces[0].name: required"),
        (
            {
                "personas": [
                    {
                        "slug": "p",
                        "name": "P",
                        "rule": {"attr": "title", "op": "exists"},
                        "spaces": [{"space": "nowhere"}],
                    }
                ]
            },
            'personas[0].spaces[0].space: no space "nowhere"',
        ),
        (
            {
                "spaces": [{"slug": "a", "name": "A"}],
                "personas": [
                    {
                        "slug": "p",
                        "name": "P",
                        "rule": {"attr": "title", "op": "exists"},
                        "spaces": [{"space": "a", "role": "king"}],
                    }
                ],
            },
            "personas[0].spaces[0].role: expected one of member, contributor, moderator",
        ),
        ({"personas": [{"slug": "p", "name": "P"}]}, "personas[0].rule: required"),
    ],
)
def test_import_refusals_are_precise(tmp_path, document, message):
    with pytest.raises(CommandError) as caught:
        run("import", write(tmp_path, document))
    assert message in str(caught.value)
    assert Space.objects.count() == 0


def test_import_of_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="No such file or directory"):
        run("import", str(tmp_path / "missing.json"))


def test_evaluate_prints_each_personas_changes(tmp_path):
    run("import", write(tmp_path, FILE))
    UserFactory(username="ann", department="Sales")
    assert run("evaluate") == "everyone-sales: +0 -0\nsales-team: +2 -0\n"


INTERFACES_EXAMPLE = """{
  "spaces": [{"slug": "new-hires", "name": "New Hires"}],
  "personas": [
    {
      "slug": "eng-new-hires",
      "name": "Engineering new hires",
      "rule": {"all": [
        {"attr": "hire_date", "op": "within_days", "value": 90},
        {"attr": "roles", "op": "contains", "value": "Engineering"}
      ]},
      "spaces": [{"space": "new-hires", "role": "member"}]
    }
  ]
}"""


def test_the_example_of_interfaces_imports_and_matches_recent_engineers(tmp_path):
    today = timezone.localdate()
    role = RoleFactory(display_name="engineering")
    for name, days in (("fresh", 10), ("veteran", 400)):
        RoleMembershipFactory(
            role=role,
            user=UserFactory(username=name, hire_date=today - dt.timedelta(days=days)),
            source="scim",
        )
    UserFactory(username="outsider", hire_date=today)
    output = run("import", write(tmp_path, INTERFACES_EXAMPLE))
    assert output.splitlines()[-1] == "eng-new-hires: +1 -0"
    assert members("new-hires") == {"fresh"}
    assert Persona.objects.get(slug="eng-new-hires").has_time_rule is True
