"""Rule -> one Django `Q` over users.User, evaluated by the database as one query.

Semantics (README "Personas and spaces"):
- Built-in text attributes compare case-insensitively; custom text values compare
  exactly (equality is JSON containment, which the GIN index on `custom` serves on
  PostgreSQL); `contains`/`startswith` on text are case-insensitive.
- A condition on a missing value (no hire date, no manager, custom key not set) is
  false, and `ne` / `not` are its exact complement: `ne` matches users without a value.
- `roles` names compare case-insensitively, through EXISTS on the membership table.
- `manager` matches the manager's id, username or email, case-insensitively.
- Only active users match, unless the rule itself mentions `active`.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import uuid
from collections.abc import Mapping
from typing import Any

from django.db.models import Exists, F, JSONField, OuterRef, Q, Value
from django.db.models.fields.json import (
    DataContains,
    HasKey,
    KeyTextTransform,
)
from django.db.models.functions import Lower, Substr
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IContains,
    IStartsWith,
    LessThan,
    LessThanOrEqual,
    Lookup,
)

from personas.rules.attributes import (
    BOOLEAN,
    DATE,
    LIST,
    MANAGER,
    ROLES,
    TEXT,
    Attribute,
    resolve_attribute,
)
from users.models import CustomField, Role, RoleMembership, User


def _any(qs: list[Q]) -> Q:
    return functools.reduce(operator.or_, qs)


def _all(qs: list[Q]) -> Q:
    return functools.reduce(operator.and_, qs)


class _Compiler:
    def __init__(self, custom_fields: Mapping[str, CustomField], today: dt.date) -> None:
        self.custom_fields = custom_fields
        self.today = today
        self.mentions_active = False

    def rule(self, node: dict[str, Any]) -> Q:
        if "all" in node:
            return _all([self.rule(child) for child in node["all"]])
        if "any" in node:
            return _any([self.rule(child) for child in node["any"]])
        if "not" in node:
            return ~self.rule(node["not"])
        return self.leaf(node)

    def leaf(self, node: dict[str, Any]) -> Q:
        attribute = resolve_attribute(node["attr"], self.custom_fields)
        if attribute is None:  # validation refuses this; a field deleted since matches nobody
            return Q(pk__in=[])
        self.mentions_active = self.mentions_active or attribute.name == "active"
        op, value = node["op"], node.get("value", True)
        if op == "ne":
            return ~self.condition(attribute, "eq", value)
        if op == "exists" and value is False:
            return ~self.condition(attribute, "exists", True)
        return self.condition(attribute, op, value)

    def condition(self, attribute: Attribute, op: str, value: Any) -> Q:
        if op == "in" and attribute.kind not in (MANAGER, ROLES):
            single = "contains" if attribute.kind == LIST else "eq"
            return _any([self.condition(attribute, single, item) for item in value])
        if attribute.custom_key:
            return self.custom(attribute.custom_key, attribute.kind, op, value)
        kind, field = attribute.kind, attribute.field
        if kind == TEXT:
            return self.text(F(field), op, value, guard=None)
        if kind == DATE:
            return self.date(F(field), op, value, guard=Q(**{f"{field}__isnull": False}))
        if kind == BOOLEAN:
            return Q(**{field: value})
        if kind == MANAGER:
            return self.manager(op, value)
        return self.roles(op, value)

    # --- kinds ---------------------------------------------------------------------

    def text(self, column: Any, op: str, value: Any, guard: Q | None) -> Q:
        if op == "eq":
            match = Q(Exact(Lower(column), Lower(Value(value))))
        elif op == "contains":
            match = Q(IContains(column, value))
        elif op == "startswith":
            match = Q(IStartsWith(column, value))
        else:  # exists
            return guard if guard is not None else ~Q(Exact(column, ""))
        return match if guard is None else guard & match

    def date(self, column: Any, op: str, value: Any, guard: Q) -> Q:
        # Custom dates are ISO text (YYYY-MM-DD), which orders like the dates themselves.
        as_text = not isinstance(column, F)

        def day(d: dt.date | str) -> Any:
            parsed = d if isinstance(d, dt.date) else dt.date.fromisoformat(d)
            return parsed.isoformat() if as_text else parsed

        if op == "exists":
            return guard
        match: Lookup[Any]
        if op == "eq":
            match = Exact(column, day(value))
        elif op == "before":
            match = LessThan(column, day(value))
        elif op == "after":
            match = GreaterThan(column, day(value))
        elif op == "within_days":
            since = self.today - dt.timedelta(days=value)
            return (
                guard
                & Q(GreaterThanOrEqual(column, day(since)))
                & Q(LessThanOrEqual(column, day(self.today)))
            )
        else:  # older_than_days
            match = LessThan(column, day(self.today - dt.timedelta(days=value)))
        return guard & Q(match)

    def manager(self, op: str, value: Any) -> Q:
        if op == "exists":
            return Q(manager__isnull=False)
        names = value if op == "in" else [value]
        who = [Q(username__ci=name) | Q(email__ci=name) for name in names]
        ids = [uid for uid in (_as_uuid(name) for name in names) if uid is not None]
        if ids:
            who.append(Q(pk__in=ids))
        managers = User.objects.filter(_any(who)).values("pk")
        return Q(manager__isnull=False) & Q(manager_id__in=managers)

    def roles(self, op: str, value: Any) -> Q:
        held = RoleMembership.objects.filter(user_id=OuterRef("pk"))
        if op != "exists":
            names = value if op == "in" else [value]
            wanted = Role.objects.filter(_any([Q(display_name__ci=name) for name in names]))
            held = held.filter(role_id__in=wanted.values("pk"))
        return Q(Exists(held))

    def custom(self, key: str, kind: str, op: str, value: Any) -> Q:
        has_key = Q(HasKey(F("custom"), key))
        if op == "exists":
            return has_key
        if kind == DATE:
            # A date-time value (SCIM's dateTime, kept as sent) begins with its day.
            day = Substr(KeyTextTransform(key, "custom"), 1, 10)
            return self.date(day, op, value, guard=has_key)
        if kind == TEXT and op in ("contains", "startswith"):
            return self.text(KeyTextTransform(key, "custom"), op, value, guard=has_key)
        if kind == LIST:  # contains
            return Q(DataContains(F("custom"), Value({key: [value]}, output_field=JSONField())))
        # eq on text, number, boolean: `custom @> {"key": value}`, which the GIN
        # (jsonb_path_ops) index answers.
        return Q(DataContains(F("custom"), Value({key: value}, output_field=JSONField())))


def _as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def compile_rule(
    rule: dict[str, Any],
    *,
    custom_fields: Mapping[str, CustomField],
    today: dt.date,
) -> Q:
    """The users a (validated) rule matches, as a filter on users.User."""
    compiler = _Compiler(custom_fields, today)
    matches = compiler.rule(rule)
    if not compiler.mentions_active:
        # Deactivated people leave every persona's spaces, unless a rule asks for them.
        matches &= Q(is_active=True)
    return matches
