"""Rule validation with path-like errors: `personas[0].rule.all[1].op: unknown operator "foo"`.

A rule that validates compiles; the compiler trusts what this module accepted.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from axero_idp.errors import ValidationFailed
from personas.rules.attributes import (
    BUILTIN,
    CUSTOM_PREFIX,
    DATE,
    LIST,
    MANAGER,
    NUMBER,
    OPERATORS,
    ROLES,
    TEXT,
    TIME_OPS,
    Attribute,
    resolve_attribute,
)
from users.models import CustomField

MAX_DEPTH: Final = 8
MAX_CONDITIONS: Final = 200
MAX_IN_VALUES: Final = 500
MAX_TEXT: Final = 500
MAX_DAYS: Final = 36500  # a hundred years: larger is a typo, not a policy
MAX_RULE_BYTES: Final = 64 * 1024
# Exactly YYYY-MM-DD: date.fromisoformat alone also takes ISO week dates ("2024-W01-1").
_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

_CONDITION_KEYS: Final = frozenset({"attr", "op", "value"})
_GROUP_KEYS: Final = ("all", "any", "not")


@dataclass(frozen=True)
class RuleInfo:
    """What the evaluator needs to know about a valid rule."""

    has_time_rule: bool
    mentions_active: bool
    conditions: int


def _q(text: Any) -> str:
    return json.dumps(text) if isinstance(text, str) else repr(text)


def _required_text(node: dict[str, Any], key: str, path: str) -> None:
    if key not in node:
        raise ValidationFailed(f"{path}.{key}: required")
    if not isinstance(node[key], str):
        raise ValidationFailed(f"{path}.{key}: expected text")


def _operator_check(attribute: Attribute, op: str, path: str) -> None:
    if op not in OPERATORS:
        raise ValidationFailed(f"{path}.op: unknown operator {_q(op)}")
    if op not in attribute.ops:
        raise ValidationFailed(
            f"{path}.op: operator {_q(op)} does not apply to {attribute.name} "
            f"({attribute.kind}); use one of {', '.join(attribute.ops)}"
        )


class _Validator:
    def __init__(self, custom_fields: Mapping[str, CustomField]) -> None:
        self.custom_fields = custom_fields
        self.conditions = 0
        self.has_time_rule = False
        self.mentions_active = False

    def rule(self, node: Any, path: str, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise ValidationFailed(f"{path}: nested deeper than {MAX_DEPTH} levels")
        if not isinstance(node, dict):
            raise ValidationFailed(
                f'{path}: expected an object: {{"all": [...]}}, {{"any": [...]}}, '
                f'{{"not": rule}} or {{"attr", "op", "value"}}'
            )
        groups = [key for key in _GROUP_KEYS if key in node]
        if groups:
            self.group(node, groups, path, depth)
        else:
            self.condition(node, path)

    def group(self, node: dict[str, Any], groups: list[str], path: str, depth: int) -> None:
        if len(groups) > 1 or set(node) != {groups[0]}:
            raise ValidationFailed(
                f"{path}: a group has exactly one key, {', '.join(_q(k) for k in sorted(node))} given"
            )
        key = groups[0]
        if key == "not":
            self.rule(node["not"], f"{path}.not", depth + 1)
            return
        children = node[key]
        if not isinstance(children, list) or not children:
            raise ValidationFailed(f"{path}.{key}: expected a non-empty list of rules")
        for index, child in enumerate(children):
            self.rule(child, f"{path}.{key}[{index}]", depth + 1)

    def condition(self, node: dict[str, Any], path: str) -> None:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise ValidationFailed(f"{path}: more than {MAX_CONDITIONS} conditions in one rule")
        unknown = sorted(set(node) - _CONDITION_KEYS)
        if unknown:
            raise ValidationFailed(f"{path}: unknown key {_q(unknown[0])}")
        for key in ("attr", "op"):
            _required_text(node, key, path)
        attribute = self.attribute(node["attr"], f"{path}.attr")
        op = node["op"]
        _operator_check(attribute, op, path)
        if "value" not in node and op != "exists":
            raise ValidationFailed(f"{path}.value: required")
        check_value(attribute, op, node.get("value", True), f"{path}.value")
        self.has_time_rule = self.has_time_rule or op in TIME_OPS
        self.mentions_active = self.mentions_active or attribute.name == "active"

    def attribute(self, name: str, path: str) -> Attribute:
        attribute = resolve_attribute(name, self.custom_fields)
        if attribute is not None:
            return attribute
        if name.startswith(CUSTOM_PREFIX):
            raise ValidationFailed(
                f"{path}: no custom profile field {_q(name[len(CUSTOM_PREFIX) :])} "
                "(define it with `manage.py custom_field add`)"
            )
        raise ValidationFailed(
            f"{path}: unknown attribute {_q(name)}; use one of {', '.join(BUILTIN)} or custom.<key>"
        )


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(f"{path}: expected non-empty text")
    if len(value) > MAX_TEXT:
        raise ValidationFailed(f"{path}: longer than {MAX_TEXT} characters")
    if "\x00" in value:
        # PostgreSQL text and jsonb cannot hold it: refused here, not as a database error.
        raise ValidationFailed(f"{path}: contains a NUL character")
    return value


def _date(value: Any, path: str) -> dt.date:
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValidationFailed(f"{path}: expected a date as YYYY-MM-DD, got {_q(value)}")


def _scalar(attribute: Attribute, value: Any, path: str) -> None:
    kind = attribute.kind
    if kind in (TEXT, MANAGER):
        _text(value, path)
    elif kind == DATE:
        _date(value, path)
    elif kind == NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationFailed(f"{path}: expected a number")
        if isinstance(value, float) and not math.isfinite(value):
            # NaN and Infinity are not JSON: jsonb would refuse to store the rule.
            raise ValidationFailed(f"{path}: expected a finite number")
    elif not isinstance(value, bool):  # BOOLEAN
        raise ValidationFailed(f"{path}: expected true or false")


def _exists_value(attribute: Attribute, value: Any, path: str) -> None:
    if not isinstance(value, bool):
        raise ValidationFailed(f"{path}: expected true or false")


def _days_value(attribute: Attribute, value: Any, path: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DAYS:
        raise ValidationFailed(
            f"{path}: expected a whole number of days from 0 to {MAX_DAYS}, got {_q(value)}"
        )


def _in_value(attribute: Attribute, value: Any, path: str) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationFailed(f"{path}: expected a non-empty list")
    if len(value) > MAX_IN_VALUES:
        raise ValidationFailed(f"{path}: more than {MAX_IN_VALUES} values")
    for index, item in enumerate(value):
        if attribute.kind in (ROLES, LIST):
            _text(item, f"{path}[{index}]")
        else:
            _scalar(attribute, item, f"{path}[{index}]")


def _text_value(attribute: Attribute, value: Any, path: str) -> None:
    _text(value, path)


# How each operator's value is checked; eq, ne, before and after take one scalar.
_VALUE_CHECKS: Final[Mapping[str, Callable[[Attribute, Any, str], None]]] = {
    "exists": _exists_value,
    **dict.fromkeys(TIME_OPS, _days_value),
    "in": _in_value,
    "contains": _text_value,
    "startswith": _text_value,
}


def check_value(attribute: Attribute, op: str, value: Any, path: str) -> None:
    """Check one condition's value against its attribute's kind and operator."""
    _VALUE_CHECKS.get(op, _scalar)(attribute, value, path)


def validate_rule(
    rule: Any, *, custom_fields: Mapping[str, CustomField], path: str = "rule"
) -> RuleInfo:
    """Check a rule completely; raise ValidationFailed naming the first problem's path."""
    if len(json.dumps(rule, default=str)) > MAX_RULE_BYTES:
        raise ValidationFailed(f"{path}: larger than {MAX_RULE_BYTES} bytes")
    validator = _Validator(custom_fields)
    validator.rule(rule, path, 1)
    return RuleInfo(
        has_time_rule=validator.has_time_rule,
        mentions_active=validator.mentions_active,
        conditions=validator.conditions,
    )
