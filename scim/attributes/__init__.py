"""The one map from SCIM attribute names to the directory.

Every SCIM attribute name that reaches the server (a filter, a PATCH path, a sortBy, a
key of a no-path PATCH value) is turned into one canonical key here, so the parser, the
filter compiler, PATCH and rendering agree on what a name means:

- core attributes: the lower-cased dotted name, "username", "name.givenname",
  "emails.value", "meta.lastmodified";
- enterprise extension: "enterprise:" + name, "enterprise:manager.value";
- product extension: "axero:hiredate", and "axero:" + the custom field's key as the
  admin defined it (custom keys keep their spelling so they can be handed straight to
  `user_update(custom=...)`; they are still matched case-insensitively).

Attribute names and schema URNs are case-insensitive (RFC 7643 §2.1). Unqualified
extension names ("employeeNumber", "hireDate") are accepted too: IdP templates send them.

The rows themselves are in scim.attributes.table (read by /Schemas too); the schema
URNs, and what a short or company URN stands for, in scim.attributes.schemas.
"""

from __future__ import annotations

from collections.abc import Mapping

from axero_idp.errors import ApplicationError
from scim.attributes.schemas import (
    AXERO_SCHEMA,
    ENTERPRISE_SCHEMA,
    EXTENSION_PREFIX,
    GROUP,
    GROUP_SCHEMA,
    SHORT_URNS,
    USER,
    USER_SCHEMA,
    resource_kind,
    schema_for_urn,
    split_urn,
)
from scim.attributes.table import (
    BOOLEAN,
    COMPLEX,
    DATE,
    DATETIME,
    GROUP_ATTRIBUTES,
    INTEGER,
    LIST,
    NUMBER,
    REFERENCE,
    SCIM_TYPES,
    STRING,
    USER_ATTRIBUTES,
    UUID,
    AttrSpec,
    custom_attr_spec,
)
from users.models import CustomField, Role, User
from users.selectors import custom_fields_by_key

__all__ = [
    "AXERO_SCHEMA",
    "BOOLEAN",
    "COMPLEX",
    "DATE",
    "DATETIME",
    "ENTERPRISE_SCHEMA",
    "EXTENSION_PREFIX",
    "GROUP",
    "GROUP_ATTRIBUTES",
    "GROUP_SCHEMA",
    "INTEGER",
    "LIST",
    "NUMBER",
    "REFERENCE",
    "SCIM_TYPES",
    "SHORT_URNS",
    "STRING",
    "USER",
    "USER_ATTRIBUTES",
    "USER_SCHEMA",
    "UUID",
    "AttrSpec",
    "InvalidFilter",
    "InvalidPath",
    "attr_spec",
    "attributes_of",
    "builtin_attr_spec",
    "canonical_attr",
    "column_nullable",
    "custom_attr_spec",
    "schema_for_urn",
    "split_urn",
]


class InvalidFilter(ApplicationError):
    code = "invalid_filter"
    http_status = 400
    scim_type = "invalidFilter"


class InvalidPath(ApplicationError):
    code = "invalid_path"
    http_status = 400
    scim_type = "invalidPath"


def canonical_attr(
    resource: str,
    text: str,
    *,
    error: type[ApplicationError] = InvalidPath,
    custom_fields: Mapping[str, CustomField] | None = None,
) -> str:
    """The canonical key of a SCIM attribute name (see the module docstring).

    Raises `error` (InvalidPath by default; the filter parser passes InvalidFilter)
    naming the attribute when it is unknown. `custom_fields` (key -> definition) saves
    a query when the caller already has them.
    """
    return attr_spec(resource, text, error=error, custom_fields=custom_fields).key


def attr_spec(
    resource: str,
    text: str,
    *,
    error: type[ApplicationError] = InvalidPath,
    custom_fields: Mapping[str, CustomField] | None = None,
) -> AttrSpec:
    """The AttrSpec of a SCIM attribute name, URN-qualified or not."""
    kind = resource_kind(resource)
    urn, name = split_urn(text.strip())
    lowered = name.lower()
    if not _valid_name(lowered):
        raise error(f"{text!r} is not an attribute name")
    if urn is not None:
        schema = schema_for_urn(kind, urn)
        if schema is None:
            raise error(f"unknown schema {urn!r} in attribute {text!r}")
        candidates = [EXTENSION_PREFIX.get(schema, "") + lowered]
    else:
        # Unqualified: core first, then the extensions (IdP templates omit the URN).
        candidates = [lowered, "enterprise:" + lowered, "axero:" + lowered]
    for candidate in candidates:
        spec = builtin_attr_spec(kind, candidate)
        if spec is not None:
            return spec
    if kind == USER:
        custom = _custom_spec(
            candidates[-1] if urn is None else candidates[0], custom_fields=custom_fields
        )
        if custom is not None:
            return custom
    raise error(f"unknown attribute {text!r}")


def builtin_attr_spec(resource: str, key: str) -> AttrSpec | None:
    """The AttrSpec of a canonical key that is not a custom field, or None."""
    specs = attributes_of(resource)
    spec = specs.get(key)
    if spec is not None:
        return spec
    parent_key, dot, sub = key.rpartition(".")
    parent = specs.get(parent_key) if dot else None
    if parent is not None and not parent.stored and sub in parent.sub_attrs:
        # phoneNumbers.value: a sub-attribute of a list the directory does not keep.
        return AttrSpec(key=key, name=sub, schema=parent.schema, kind=STRING, stored=False)
    return None


def _custom_spec(
    candidate: str, *, custom_fields: Mapping[str, CustomField] | None
) -> AttrSpec | None:
    if not candidate.startswith("axero:") or "." in candidate:
        return None
    wanted = candidate.removeprefix("axero:")
    fields = custom_fields if custom_fields is not None else custom_fields_by_key()
    for key, field in fields.items():
        if key.lower() == wanted:
            return custom_attr_spec(field)
    return None


def attributes_of(resource: str) -> Mapping[str, AttrSpec]:
    """The fixed attributes of a resource type by canonical key (no custom fields)."""
    return USER_ATTRIBUTES if resource_kind(resource) == USER else GROUP_ATTRIBUTES


def column_nullable(resource: str, column: str) -> bool:
    """Can the stored value be NULL? (A `__` path goes through the nullable manager.)"""
    if "__" in column:
        return True
    model = User if resource_kind(resource) == USER else Role
    return bool(model._meta.get_field(column).null)


def _valid_name(lowered: str) -> bool:
    # ATTRNAME = ALPHA *(nameChar), subAttr = "." ATTRNAME; "$ref" is the one exception.
    parts = lowered.split(".")
    return len(parts) <= 2 and all(part == "$ref" or _valid_part(part) for part in parts)


def _valid_part(part: str) -> bool:
    return (
        bool(part)
        and part[0].isascii()
        and part[0].isalpha()
        and all(c.isascii() and (c.isalnum() or c in "-_") for c in part)
    )
