"""The attributes a rule may name, their kinds, and which operators apply to each kind."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from users.models import CustomField, CustomFieldType

TEXT: Final = "text"
DATE: Final = "date"
NUMBER: Final = "number"
BOOLEAN: Final = "boolean"
LIST: Final = "list"
MANAGER: Final = "manager"
ROLES: Final = "roles"

OPERATORS: Final = (
    "eq",
    "ne",
    "in",
    "contains",
    "startswith",
    "exists",
    "before",
    "after",
    "within_days",
    "older_than_days",
)

# The op/kind matrix. `active` is a boolean that every user has, so `exists` is left out
# for it separately (see Attribute.ops).
OPS_BY_KIND: Final[dict[str, tuple[str, ...]]] = {
    TEXT: ("eq", "ne", "in", "contains", "startswith", "exists"),
    DATE: ("eq", "ne", "before", "after", "within_days", "older_than_days", "exists"),
    NUMBER: ("eq", "ne", "in", "exists"),
    BOOLEAN: ("eq", "ne", "exists"),
    LIST: ("contains", "in", "exists"),
    MANAGER: ("eq", "ne", "in", "exists"),
    ROLES: ("contains", "in", "exists"),
}

TIME_OPS: Final = frozenset({"within_days", "older_than_days"})

# Built-in attributes: rule name -> (User field, kind).
BUILTIN: Final[dict[str, tuple[str, str]]] = {
    "email": ("email", TEXT),
    "first_name": ("first_name", TEXT),
    "last_name": ("last_name", TEXT),
    "title": ("title", TEXT),
    "department": ("department", TEXT),
    "employee_number": ("employee_number", TEXT),
    "hire_date": ("hire_date", DATE),
    "manager": ("manager", MANAGER),
    "roles": ("roles", ROLES),
    "active": ("is_active", BOOLEAN),
}

CUSTOM_KIND: Final[dict[str, str]] = {
    CustomFieldType.STRING: TEXT,
    CustomFieldType.DATE: DATE,
    CustomFieldType.NUMBER: NUMBER,
    CustomFieldType.BOOLEAN: BOOLEAN,
    CustomFieldType.LIST: LIST,
}

CUSTOM_PREFIX: Final = "custom."


@dataclass(frozen=True)
class Attribute:
    name: str  # as written in the rule
    kind: str
    field: str = ""  # User field for built-ins
    custom_key: str = ""  # key in User.custom for custom fields

    @property
    def ops(self) -> tuple[str, ...]:
        ops = OPS_BY_KIND[self.kind]
        return tuple(op for op in ops if op != "exists") if self.name == "active" else ops


def resolve_attribute(name: str, custom_fields: Mapping[str, CustomField]) -> Attribute | None:
    """The attribute a rule names, or None when it names nothing known."""
    if name in BUILTIN:
        field, kind = BUILTIN[name]
        return Attribute(name=name, kind=kind, field=field)
    if name.startswith(CUSTOM_PREFIX):
        key = name[len(CUSTOM_PREFIX) :]
        definition = custom_fields.get(key)
        if definition is None:
            return None
        return Attribute(name=name, kind=CUSTOM_KIND[definition.type], custom_key=key)
    return None
