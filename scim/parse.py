"""Request bodies into directory values, whatever dialect the identity provider speaks.

`flatten` turns a resource body (or a no-path PATCH value) into canonical keys
(scim.attributes): short and company URNs, dotted and URN-qualified keys, `emails` as
an object, string booleans and the three manager shapes all land on the same keys.
`user_input` turns those keys into the arguments of users.services.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from axero_idp.errors import ValidationFailed
from scim.attributes import (
    COMPLEX,
    InvalidPath,
    attr_spec,
    attributes_of,
    schema_for_urn,
)
from users.models import CustomField
from users.services.values import parse_bool

UNSET: Final = object()

# Canonical key -> users.services attribute, for the plain single-valued attributes.
USER_FIELDS: Final = {
    "username": "username",
    "externalid": "external_id",
    "name.givenname": "first_name",
    "name.familyname": "last_name",
    "displayname": "display_name",
    "title": "title",
    "enterprise:employeenumber": "employee_number",
    "enterprise:costcenter": "cost_center",
    "enterprise:organization": "organization",
    "enterprise:division": "division",
    "enterprise:department": "department",
    "axero:hiredate": "hire_date",
}
# Read-only or server-assigned: ignored in bodies (RFC 7643 §7), refused in PATCH paths.
READ_ONLY: Final = frozenset({"id", "meta", "schemas", "groups"})


def flatten(
    resource: str,
    body: Mapping[str, Any],
    *,
    custom_fields: Mapping[str, CustomField],
    ignored: list[str] | None = None,
) -> dict[str, Any]:
    """{canonical key: value} from a resource body or a no-path PATCH value.

    Names this server does not know are skipped, not refused: IdP templates carry
    attributes the directory does not keep (phoneNumbers, locale, an undefined custom
    field, ...). Each one is appended to `ignored`, so the request log, the audit trail
    and admin's "received but not mapped" can say so.
    """
    out: dict[str, Any] = {}
    for name, value in body.items():
        if not isinstance(name, str) or name.lower() in ("schemas", "meta"):
            continue
        if name.lower().startswith("urn:") and isinstance(value, dict):
            schema = schema_for_urn(resource, name)
            if schema is not None:
                for sub_name, sub_value in value.items():
                    if isinstance(sub_name, str):
                        _put(
                            out, resource, f"{schema}:{sub_name}", sub_value, custom_fields, ignored
                        )
                continue
        _put(out, resource, name, value, custom_fields, ignored)
    return out


def _put(
    out: dict[str, Any],
    resource: str,
    name: str,
    value: Any,
    custom_fields: Mapping[str, CustomField],
    ignored: list[str] | None = None,
) -> None:
    try:
        spec = attr_spec(resource, name, custom_fields=custom_fields)
    except InvalidPath:
        if ignored is not None and name.lower() not in READ_ONLY:
            ignored.append(name)
        return
    if not spec.stored and ignored is not None:
        ignored.append(spec.name)  # in the schema (phoneNumbers, locale), kept nowhere
    if spec.kind == COMPLEX and not spec.multi_valued and isinstance(value, dict):
        _put_complex(out, resource, spec.key, value)
    else:
        out[spec.key] = value


def _put_complex(out: dict[str, Any], resource: str, key: str, value: dict[Any, Any]) -> None:
    if key == "enterprise:manager":
        out[key] = value
        return
    # A single-valued complex attribute ("name") is a set of fields.
    known = attributes_of(resource)
    for sub_name, sub_value in value.items():
        sub_key = f"{key}.{str(sub_name).lower()}"
        if sub_key in known:
            out[sub_key] = sub_value


def lowered_keys(value: Mapping[Any, Any]) -> dict[str, Any]:
    """A value object with its sub-attribute names lower-cased: they are
    case-insensitive (RFC 7643 §2.1), and every reader looks them up by the
    lower-case name ("primary", "value", "type", "display", "$ref")."""
    return {str(k).lower(): v for k, v in value.items()}


def multi_values(value: Any) -> list[dict[str, Any]]:
    """A multi-valued attribute as a list of value objects (one object, a bare value,
    or a list of either, as IdPs send them), sub-attribute names lower-cased."""
    if value is None or value == "":
        return []
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, dict):
            out.append(lowered_keys(item))
        elif isinstance(item, str):
            out.append({"value": item})
        else:
            raise ValidationFailed(f"expected a value object, got {type(item).__name__}")
    return out


def pick_value(value: Any, *, preferred_type: str, field_name: str) -> str | None:
    """The one value the directory keeps of a multi-valued attribute: the primary
    one, else the one of the preferred type, else the first."""
    items = [i for i in multi_values(value) if i.get("value") not in (None, "")]
    if not items:
        return None
    for item in items:
        if "primary" in item and parse_bool(item["primary"], field=f"{field_name}.primary"):
            return _text(item["value"], field_name)
    for item in items:
        if str(item.get("type", "")).lower() == preferred_type:
            return _text(item["value"], field_name)
    return _text(items[0]["value"], field_name)


def _text(value: Any, field_name: str) -> str:
    if not isinstance(value, str):
        raise ValidationFailed(f"{field_name}: expected text")
    return value


def manager_ref(value: Any) -> str | None:
    """The manager reference in any of the shapes IdPs send: {"value"}, SCIM 1.1's
    {"managerId"}, a bare string; a `$ref` URL names the user by its last segment."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, dict):
        return _manager_object_ref(lowered_keys(value))
    raise ValidationFailed("manager: expected a string or an object with a value")


def _manager_object_ref(lowered: dict[str, Any]) -> str | None:
    for key in ("value", "managerid"):
        if lowered.get(key) not in (None, ""):
            return _text(lowered[key], "manager.value").strip() or None
    ref = lowered.get("$ref")
    if isinstance(ref, str) and ref.strip():
        return ref.rstrip("/").rsplit("/", 1)[-1]
    return None


@dataclass
class UserInput:
    """users.services arguments for a whole user (POST, PUT, or a PATCH's result)."""

    username: str | None
    attributes: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)
    manager_ref: str | None = None
    active: bool | None = None


def user_input(
    flat: Mapping[str, Any],
    *,
    custom_fields: Mapping[str, CustomField],
    clear_absent_custom: bool = True,
) -> UserInput:
    """Every directory value a full user body sets; absent ones are None (cleared).

    A new user has no custom values to clear (`clear_absent_custom=False`), so the
    custom field definitions are read only when the body names a custom field.
    """
    attributes: dict[str, Any] = {name: flat.get(key) for key, name in USER_FIELDS.items()}
    username = attributes.pop("username")
    if username is not None and not isinstance(username, str):
        raise ValidationFailed("userName: expected text")
    attributes["email"] = pick_value(flat.get("emails"), preferred_type="work", field_name="emails")
    attributes["photo_url"] = pick_value(
        flat.get("photos"), preferred_type="photo", field_name="photos"
    )
    active = flat.get("active")
    custom = _custom_values(flat, custom_fields, clear_absent=clear_absent_custom)
    return UserInput(
        username=username,
        attributes=attributes,
        custom=custom,
        manager_ref=manager_ref(flat.get("enterprise:manager")),
        active=None if active is None else parse_bool(active, field="active"),
    )


def _custom_values(
    flat: Mapping[str, Any], custom_fields: Mapping[str, CustomField], *, clear_absent: bool
) -> dict[str, Any]:
    """The custom field values a body sets (and, to clear them, None for the absent)."""
    custom = {key: flat.get(f"axero:{key}") for key in custom_fields} if clear_absent else {}
    for key, value in flat.items():
        if key.startswith("axero:") and key != "axero:hiredate" and key[6:] in custom_fields:
            custom[key.removeprefix("axero:")] = value
    return custom
