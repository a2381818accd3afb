"""One comparison (`attr op value`) on one stored value, as a database condition.

The result is a Q, or a bool when the answer does not depend on the row (a fixed
value such as emails.type, an attribute the directory does not keep, an id that is not
a UUID). caseExact=false text compares `LOWER(column)` with `LOWER(value)` (the users app's
`__ci` lookup for plain columns): that is the form the Lower() indexes on username,
email and role names serve (Django's iexact is UPPER() = UPPER() and would not use them).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import (
    DateTimeField,
    Expression,
    F,
    JSONField,
    Q,
    TextField,
    Value,
)
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Cast, Collate, Lower, Substr
from django.db.models.lookups import (
    Contains,
    EndsWith,
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IContains,
    IEndsWith,
    IsNull,
    IStartsWith,
    LessThan,
    LessThanOrEqual,
    StartsWith,
)
from django.utils import timezone

from axero_idp.errors import ValidationFailed
from scim.attributes import (
    BOOLEAN,
    DATE,
    DATETIME,
    LIST,
    NUMBER,
    REFERENCE,
    STRING,
    UUID,
    InvalidFilter,
)
from scim.filters.ast import ORDERING_OPERATORS, TEXT_OPERATORS, Literal
from users.services.values import parse_bool, parse_date

Condition = Q | bool

_ORDERING = {
    "gt": GreaterThan,
    "ge": GreaterThanOrEqual,
    "lt": LessThan,
    "le": LessThanOrEqual,
}
_TEXT_EXACT = {"co": Contains, "sw": StartsWith, "ew": EndsWith}
_TEXT_INEXACT = {"co": IContains, "sw": IStartsWith, "ew": IEndsWith}


@dataclass(frozen=True)
class Target:
    """Where one attribute (or sub-attribute) lives, for comparisons on it.

    `expr` is a field path ("email", "manager__display_name") or an expression;
    `custom_key` marks a custom field, kept in `custom_column` (a JSON column path).
    """

    name: str
    kind: str
    expr: str | Expression | None = None
    case_exact: bool = False
    nullable: bool = False
    fixed: tuple[Any, ...] | None = None
    stored: bool = True
    filterable: bool = True
    custom_key: str | None = None
    custom_column: str = "custom"


def compile_compare(target: Target, op: str, value: Literal) -> Condition:
    """The condition `target op value`; raises InvalidFilter for a meaningless one."""
    if not target.filterable:
        raise InvalidFilter(f"{target.name!r} cannot be used in a filter")
    _check_operator(target, op)
    if value is None and op != "pr":
        return _compare_null(target, op)
    if target.fixed is not None:
        return op == "pr" or _compare_fixed(target, op, target.fixed[0], value)
    if not target.stored:
        # Never assigned here: nothing equals, contains or orders against it.
        return op == "ne"
    if op == "pr":
        return _present(target)
    if target.custom_key is not None:
        return _compare_custom(target, op, value)
    return _compare_column(target, op, value)


def _compare_null(target: Target, op: str) -> Condition:
    # `x eq null` asks for an unassigned value: the opposite of `x pr`.
    if op not in ("eq", "ne"):
        raise InvalidFilter(f"{op!r} cannot compare {target.name!r} with null")
    present = compile_compare(target, "pr", None)
    return _negate(present) if op == "eq" else present


def _check_operator(target: Target, op: str) -> None:
    if target.kind == BOOLEAN and op in ORDERING_OPERATORS + TEXT_OPERATORS:
        raise InvalidFilter(f"{op!r} is not defined for the boolean attribute {target.name!r}")
    if target.kind in (DATE, DATETIME, NUMBER) and op in TEXT_OPERATORS:
        raise InvalidFilter(
            f"{op!r} is not defined for the {target.kind} attribute {target.name!r}"
        )
    if target.kind == LIST and op not in ("eq", "ne", "pr"):
        raise InvalidFilter(f"{op!r} is not defined for the list attribute {target.name!r}")


def _negate(condition: Condition) -> Condition:
    return (not condition) if isinstance(condition, bool) else ~condition


def _expression(target: Target) -> Any:
    return F(target.expr) if isinstance(target.expr, str) else target.expr


def _json_key(target: Target) -> KeyTransform:
    # Built directly rather than as "custom__<key>": a key may itself contain "__".
    assert target.custom_key is not None
    return KeyTransform(target.custom_key, target.custom_column)


def _json_text(target: Target) -> KeyTextTransform:
    assert target.custom_key is not None
    return KeyTextTransform(target.custom_key, target.custom_column)


def _json_lookup(target: Target, op: str, value: Any) -> Q:
    # jsonb against a jsonb value: numbers compare numerically, [] equals only [].
    return _lookup(op, _json_key(target), Value(value, output_field=JSONField()))


def _present(target: Target) -> Condition:
    if target.custom_key is not None:
        # ->> is NULL for a missing key and for JSON null; "" and [] are empty too.
        text = _json_text(target)
        return Q(IsNull(text, False)) & ~Q(Exact(text, "")) & ~_json_lookup(target, "eq", [])
    expr = _expression(target)
    if target.kind in (STRING, REFERENCE):
        condition = ~Q(Exact(expr, ""))
        return condition & Q(IsNull(expr, False)) if target.nullable else condition
    return Q(IsNull(expr, False))


def _compare_column(target: Target, op: str, value: Literal) -> Condition:
    expr = _expression(target)
    if target.kind == UUID:
        return _compare_uuid(target, expr, op, value)
    if target.kind == BOOLEAN:
        condition = Q(Exact(expr, _boolean(target, value)))
        return ~condition if op == "ne" else condition
    compare = _NULLABLE_COMPARES.get(target.kind)
    if compare is None:
        raise InvalidFilter(f"{target.name!r} cannot be used in a filter")
    return _null_safe_ne(target, expr, op, compare(target, expr, op, value))


def _compare_text(target: Target, expr: Any, op: str, value: Literal) -> Q:
    text = _text(target, value)
    if target.case_exact:
        condition = _text_lookup(_TEXT_EXACT, op, expr, text)
        return condition if condition is not None else _lookup(op, expr, Value(text))
    condition = _text_lookup(_TEXT_INEXACT, op, expr, text)
    if condition is None and op in ("eq", "ne") and isinstance(target.expr, str):
        # users' `__ci` lookup: the same LOWER() = LOWER() SQL, cheaper to build.
        condition = Q(**{f"{target.expr}__ci": text})
    if condition is None:
        condition = _lookup(op, Lower(expr), Lower(Value(text)))
    return condition


def _compare_datetime(target: Target, expr: Any, op: str, value: Literal) -> Q:
    return _lookup(op, expr, Value(_datetime(target, value), output_field=DateTimeField()))


def _compare_date(target: Target, expr: Any, op: str, value: Literal) -> Q:
    return _lookup(op, expr, Value(_date(target, value)))


# Kinds whose `ne` must also match an unassigned value (_null_safe_ne).
_NULLABLE_COMPARES: dict[str, Callable[[Target, Any, str, Literal], Q]] = {
    STRING: _compare_text,
    REFERENCE: _compare_text,
    DATETIME: _compare_datetime,
    DATE: _compare_date,
}


def _text_lookup(lookups: dict[str, Any], op: str, expr: Any, text: str) -> Q | None:
    lookup = lookups.get(op)
    return Q(lookup(expr, text)) if lookup is not None else None


def _lookup(op: str, lhs: Any, rhs: Any) -> Q:
    if op in ("eq", "ne"):
        return Q(Exact(lhs, rhs))
    if op in _ORDERING:
        return Q(_ORDERING[op](lhs, rhs))
    raise InvalidFilter(f"unknown operator {op!r}")  # pragma: no cover - parser checks


def _null_safe_ne(target: Target, expr: Any, op: str, equal: Q) -> Q:
    if op != "ne":
        return equal
    if target.nullable:
        # An unassigned value is "not equal" too; NOT (NULL = x) alone would drop it.
        return ~(equal & Q(IsNull(expr, False)))
    return ~equal


def _compare_uuid(target: Target, expr: Any, op: str, value: Literal) -> Condition:
    text = _text(target, value).strip().lower()
    if op in ("eq", "ne"):
        try:
            key = uuid.UUID(text)
        except ValueError:
            return op == "ne"  # not an id: nothing has it
        return _null_safe_ne(target, expr, op, Q(Exact(expr, key)))
    as_text = Cast(expr, TextField())
    condition = _text_lookup(_TEXT_EXACT, op, as_text, text)
    return condition if condition is not None else _lookup(op, as_text, Value(text))


def _compare_custom(target: Target, op: str, value: Literal) -> Condition:
    key, column = target.custom_key, target.custom_column
    assert key is not None
    if target.kind in (BOOLEAN, NUMBER, LIST) and op in ("eq", "ne"):
        # Containment (custom @> {"key": value}) is what the GIN index serves.
        stored: Any
        if target.kind == BOOLEAN:
            stored = _boolean(target, value)
        elif target.kind == NUMBER:
            stored = _number(target, value)
        else:
            stored = [_text(target, value)]
        condition = Q(**{f"{column}__contains": {key: stored}})
        return ~condition if op == "ne" else condition
    if target.kind == NUMBER:
        # jsonb orders numbers numerically; only numbers are stored in number fields.
        return _json_lookup(target, op, _number(target, value))
    if target.kind == DATE:
        # The day: the first ten characters of a date or a date-time as sent. ISO
        # dates order as text under the byte-wise "C" collation.
        day = Collate(Substr(_json_text(target), 1, 10), "C")
        equal = _lookup(op, day, Value(_date(target, value).isoformat()))
        # ne also selects users without the value, as the containment test did.
        return ~(equal & Q(IsNull(day, False))) if op == "ne" else equal
    text_target = Target(name=target.name, kind=STRING, expr=_json_text(target), nullable=True)
    return _compare_column(text_target, op, value)


def _compare_fixed(target: Target, op: str, fixed: Any, value: Literal) -> bool:
    if target.kind == BOOLEAN:
        equal = fixed == _boolean(target, value)
        return equal if op == "eq" else not equal
    left, right = str(fixed), _text(target, value)
    if not target.case_exact:
        left, right = left.lower(), right.lower()
    results = {
        "eq": left == right,
        "ne": left != right,
        "co": right in left,
        "sw": left.startswith(right),
        "ew": left.endswith(right),
        "gt": left > right,
        "ge": left >= right,
        "lt": left < right,
        "le": left <= right,
    }
    return results[op]


def _text(target: Target, value: Literal) -> str:
    if isinstance(value, bool) or value is None:
        raise InvalidFilter(f"{target.name!r} compares with a string, not {_json(value)}")
    return value if isinstance(value, str) else str(value)


def _boolean(target: Target, value: Literal) -> bool:
    try:
        return parse_bool(value, field=target.name)
    except ValidationFailed as exc:
        raise InvalidFilter(
            f"{target.name!r} compares with true or false, not {_json(value)}"
        ) from exc


def _number(target: Target, value: Literal) -> int | float | Decimal:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except ArithmeticError:
            number = Decimal("NaN")
        if number.is_finite():
            return int(number) if number == number.to_integral_value() else float(number)
    raise InvalidFilter(f"{target.name!r} compares with a number, not {_json(value)}")


def _date(target: Target, value: Literal) -> dt.date:
    try:
        parsed = parse_date(value, field=target.name) if isinstance(value, str) else None
    except ValidationFailed:
        parsed = None
    if parsed is None:
        raise InvalidFilter(
            f"{target.name!r} compares with a date (YYYY-MM-DD), not {_json(value)}"
        )
    return parsed


def _datetime(target: Target, value: Literal) -> dt.datetime:
    parsed = None
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "zZ" else text)
        except ValueError:
            parsed = None
    if parsed is None:
        raise InvalidFilter(
            f"{target.name!r} compares with a date-time (2024-03-01T09:14:00Z), not {_json(value)}"
        )
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def _json(value: Literal) -> str:
    return json.dumps(value)
