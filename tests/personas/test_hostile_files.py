"""Hostile personas files are refused with a clear error and write nothing."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from axero_idp.errors import ValidationFailed
from personas.models import Persona, Space
from personas.rules import validate_rule
from personas.services import SpaceGrant, persona_upsert, space_upsert
from tests.factories import CustomFieldFactory

pytestmark = pytest.mark.django_db


def _import(tmp_path, text: str) -> str:
    path = tmp_path / "personas.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CommandError) as caught:
        call_command("personas", "import", str(path), stdout=StringIO())
    return str(caught.value)


def _file(rule) -> str:
    return json.dumps(
        {"personas": [{"slug": "p", "name": "P", "rule": rule, "spaces": []}]},
        allow_nan=True,
    )


def test_nan_and_infinity_are_not_json_numbers(tmp_path):
    CustomFieldFactory(key="level", type="number")
    message = _import(tmp_path, _file({"attr": "custom.level", "op": "eq", "value": float("nan")}))
    assert message.endswith("not a JSON file (NaN is not a JSON number)")
    message = _import(tmp_path, _file({"attr": "custom.level", "op": "in", "value": [1e999]}))
    assert message.endswith("not a JSON file (Infinity is not a JSON number)")
    assert Persona.objects.count() == 0


def test_a_non_finite_number_in_a_rule_is_refused(actor):
    level = CustomFieldFactory(key="level", type="number")
    with pytest.raises(ValidationFailed) as caught:
        validate_rule(
            {"attr": "custom.level", "op": "eq", "value": float("inf")},
            custom_fields={"level": level},
        )
    assert caught.value.detail == "rule.value: expected a finite number"


def test_nested_too_deep_for_the_parser_is_a_clear_error(tmp_path):
    message = _import(tmp_path, "[" * 100_000 + "]" * 100_000)
    assert message.endswith("not a JSON file (nested too deeply)")


def test_a_file_larger_than_the_limit_is_refused_before_reading(tmp_path, settings):
    text = json.dumps({"spaces": [{"slug": "s", "name": "x" * 100}]})
    path = tmp_path / "big.json"
    path.write_text(text + " " * (8 * 1024 * 1024))
    with pytest.raises(CommandError) as caught:
        call_command("personas", "import", str(path), stdout=StringIO())
    assert str(caught.value) == f"{path}: larger than 8388608 bytes"
    assert Space.objects.count() == 0


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"spaces": [{"slug": "s", "name": "a\u0000b"}]},
            "spaces[0].name: contains a NUL character",
        ),
        (
            {
                "personas": [
                    {
                        "slug": "p",
                        "name": "P",
                        "rule": {"attr": "title", "op": "eq", "value": "a\u0000"},
                    }
                ]
            },
            "personas[0].rule.value: contains a NUL character",
        ),
        (
            {"spaces": [{"slug": "eng\n", "name": "Eng"}]},
            "spaces[0].slug: expected a slug (lower-case letters, digits, - and _; at most 64)",
        ),
        (
            {
                "personas": [
                    {
                        "slug": "p",
                        "name": "P",
                        "rule": {"attr": "hire_date", "op": "after", "value": "2024-W01-1"},
                    }
                ]
            },
            'personas[0].rule.value: expected a date as YYYY-MM-DD, got "2024-W01-1"',
        ),
    ],
)
def test_hostile_values_are_refused_with_their_path(tmp_path, document, message):
    assert _import(tmp_path, json.dumps(document)) == message
    assert Space.objects.count() == 0
    assert Persona.objects.count() == 0


def test_a_nul_character_in_a_persona_saved_by_a_service_is_a_validation_error(actor):
    space_upsert(slug="s", name="S", actor=actor)
    with pytest.raises(ValidationFailed) as caught:
        persona_upsert(
            slug="p",
            name="P",
            rule={"attr": "roles", "op": "contains", "value": "x\u0000"},
            spaces=[SpaceGrant(space="s", role="member")],
            actor=actor,
        )
    assert caught.value.detail == "rule.value: contains a NUL character"
