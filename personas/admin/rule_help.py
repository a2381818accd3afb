"""The rule language's help beside the persona editor, read from the tables the
validator and compiler use (personas.rules.attributes): the help cannot offer an
attribute or operator the validator would refuse."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from personas.rules.attributes import BUILTIN, CUSTOM_KIND, CUSTOM_PREFIX, OPS_BY_KIND, Attribute
from users.models import Role
from users.selectors import custom_fields_by_key

ROLES_SHOWN: Final = 40

OPERATOR_MEANINGS: Final = (
    ("eq", "equals (text: any case)"),
    ("ne", "does not equal; also matches people with no value"),
    ("in", "equals one of a list"),
    ("contains", "text contains (any case); a list or roles holds the value"),
    ("startswith", "text starts with (any case)"),
    ("exists", "has a value (true) or has none (false)"),
    ("before", "date before YYYY-MM-DD"),
    ("after", "date after YYYY-MM-DD"),
    ("within_days", "date within the last N days (hire_date within 90: new hires)"),
    ("older_than_days", "date more than N days ago"),
)

EXAMPLES: Final[tuple[tuple[str, dict[str, Any]], ...]] = (
    ("Everyone in Sales", {"attr": "department", "op": "eq", "value": "Sales"}),
    ("New hires (last 90 days)", {"attr": "hire_date", "op": "within_days", "value": 90}),
    (
        "Engineers outside Berlin",
        {
            "all": [
                {"attr": "roles", "op": "contains", "value": "Engineering"},
                {"not": {"attr": "custom.office", "op": "eq", "value": "Berlin"}},
            ]
        },
    ),
    (
        "Heads of teams, and people with no manager",
        {
            "any": [
                {"attr": "title", "op": "startswith", "value": "Head of"},
                {"attr": "manager", "op": "exists", "value": False},
            ]
        },
    ),
)


@dataclass(frozen=True)
class AttributeHelp:
    name: str
    kind: str
    ops: str
    label: str = ""


def _ops(name: str, kind: str) -> str:
    return ", ".join(Attribute(name=name, kind=kind).ops)


def rule_language_help() -> dict[str, Any]:
    """Operators, attribute names (standard, custom, roles) and examples; two queries."""
    custom = [
        AttributeHelp(
            name=f"{CUSTOM_PREFIX}{key}",
            kind=CUSTOM_KIND[field.type],
            ops=_ops(f"{CUSTOM_PREFIX}{key}", CUSTOM_KIND[field.type]),
            label=field.label,
        )
        for key, field in custom_fields_by_key().items()
    ]
    roles = list(
        Role.objects.order_by("display_name").values_list("display_name", flat=True)[
            : ROLES_SHOWN + 1
        ]
    )
    return {
        "operators": OPERATOR_MEANINGS,
        "kinds": sorted(OPS_BY_KIND.items()),
        "standard": [AttributeHelp(n, kind, _ops(n, kind)) for n, (_, kind) in BUILTIN.items()],
        "custom": custom,
        "roles": roles[:ROLES_SHOWN],
        "more_roles": len(roles) > ROLES_SHOWN,
        "examples": [(title, json.dumps(rule, indent=2)) for title, rule in EXAMPLES],
    }
