"""Users and roles as SCIM resources, and the attributes/excludedAttributes projection.

The renderer asks the projection before any costly part (a group's members, a user's
groups), so `excludedAttributes=members` never touches the membership table.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings

from scim.attributes import (
    AXERO_SCHEMA,
    ENTERPRISE_SCHEMA,
    EXTENSION_PREFIX,
    GROUP,
    GROUP_SCHEMA,
    USER,
    USER_SCHEMA,
    InvalidPath,
    canonical_attr,
)
from users.models import CustomField, CustomFieldType, Role, User

BASE_PATH = "/scim/v2"
_ALWAYS = frozenset({"schemas", "id"})
# Returned only when named in `attributes` (RFC 7643 §7 "returned": "request"): a
# user's roles cost a query per page and identity providers read them from /Groups.
_ON_REQUEST = frozenset({"groups"})


def base_url() -> str:
    return settings.SITE_URL + BASE_PATH


def location(resource: str, pk: uuid.UUID | str) -> str:
    return f"{base_url()}/{'Users' if resource == USER else 'Groups'}/{pk}"


def etag(version: int) -> str:
    return f'W/"{version}"'


def timestamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def date_as_datetime(value: dt.date | str) -> str:
    """A stored date or date-time as the RFC 7643 dateTime the schema promises: the
    instant as it was sent, a plain date as midnight UTC."""
    if isinstance(value, str) and "T" in value:
        return value.replace("+00:00", "Z")  # kept as written, so its day stays the same
    day = value if isinstance(value, dt.date) else dt.date.fromisoformat(value)
    return f"{day.isoformat()}T00:00:00Z"


class Projection:
    """Which attributes a response carries, from `attributes` / `excludedAttributes`.

    Keys are canonical (scim.attributes): "username", "name.givenname",
    "enterprise:manager", "axero:hiredate"; all compared lower-cased.
    """

    def __init__(
        self, resource: str, attributes: Iterable[str] = (), excluded: Iterable[str] = ()
    ) -> None:
        self.resource = resource
        self.included = self._keys(attributes) or None
        self.excluded = self._keys(excluded)

    @classmethod
    def from_params(cls, resource: str, params: Mapping[str, Any]) -> Projection:
        return cls(
            resource,
            _split(params.get("attributes")),
            _split(params.get("excludedAttributes")),
        )

    @property
    def is_default(self) -> bool:
        """Nothing to filter (attributes returned on request only are never rendered
        unless asked for)."""
        return self.included is None and not self.excluded

    def _keys(self, names: Iterable[str]) -> set[str]:
        keys = set()
        for name in names:
            try:
                keys.add(canonical_attr(self.resource, name).lower())
            except InvalidPath:
                # RFC 7644 §3.4.2.5 gives no error for an unknown name: it selects nothing.
                continue
        return keys

    def wants(self, key: str) -> bool:
        """Whether any part of the top-level attribute `key` is returned."""
        if key in _ALWAYS:
            return True
        if key in self.excluded:
            return False
        if self.included is None:
            return key not in _ON_REQUEST
        return key in self.included or any(k.startswith(key + ".") for k in self.included)

    def apply(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.is_default:
            return body
        out: dict[str, Any] = {}
        for name, value in body.items():
            prefix = EXTENSION_PREFIX.get(name)
            kept = self._keep(name.lower(), value) if prefix is None else self._inner(prefix, value)
            if kept is not _DROP:
                out[name] = kept
        if "schemas" in out:
            # An extension left out by the projection is not announced either.
            out["schemas"] = [
                urn for urn in out["schemas"] if urn in out or urn not in EXTENSION_PREFIX
            ]
        return out

    def _inner(self, prefix: str, value: dict[str, Any]) -> Any:
        """The kept attributes of an extension's object; _DROP when none is."""
        inner = {}
        for sub_name, sub_value in value.items():
            kept = self._keep(prefix + sub_name.lower(), sub_value)
            if kept is not _DROP:
                inner[sub_name] = kept
        return inner or _DROP

    def _keep(self, key: str, value: Any) -> Any:
        if key in _ALWAYS:
            return value
        if not self.wants(key):
            return _DROP
        subs_in, subs_out = self._subs(key)
        if subs_in is None and not subs_out:
            return value

        def part(item: Any) -> Any:
            if not isinstance(item, dict):
                return item
            return {
                k: v
                for k, v in item.items()
                if (subs_in is None or k.lower() in subs_in) and k.lower() not in subs_out
            }

        if isinstance(value, list):
            return [part(item) for item in value]
        return part(value)

    def _subs(self, key: str) -> tuple[set[str] | None, set[str]]:
        """The sub-attributes of `key` asked for (None: all of them) and left out."""
        prefix = key + "."
        subs_out = {k.split(".", 1)[1] for k in self.excluded if k.startswith(prefix)}
        if self.included is None or key in self.included:
            return None, subs_out
        return {k.split(".", 1)[1] for k in self.included if k.startswith(prefix)}, subs_out


_DROP = object()


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _meta(resource: str, obj: User | Role) -> dict[str, Any]:
    return {
        "resourceType": resource,
        "created": timestamp(obj.created_at),
        "lastModified": timestamp(obj.updated_at),
        "location": location(resource, obj.pk),
        "version": etag(obj.version),
    }


def _custom_value(field: CustomField, value: Any) -> Any:
    if field.type == CustomFieldType.DATE and isinstance(value, str):
        return date_as_datetime(value)
    return value


def _present(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    return {name: value for name, value in pairs if value}


def user_resource(
    user: User,
    *,
    projection: Projection,
    custom_fields: Mapping[str, CustomField],
    groups: list[tuple[uuid.UUID, str]] | None = None,
) -> dict[str, Any]:
    """A user as a SCIM resource. `groups` (role id, name) is rendered when given."""
    body = _user_core(user, groups)
    for urn, part in (
        (ENTERPRISE_SCHEMA, _user_enterprise(user)),
        (AXERO_SCHEMA, _user_axero(user, custom_fields)),
    ):
        if part:
            body["schemas"].append(urn)
            body[urn] = part
    body["meta"] = _meta(USER, user)
    return projection.apply(body)


def _user_core(user: User, groups: list[tuple[uuid.UUID, str]] | None) -> dict[str, Any]:
    name = _present((("givenName", user.first_name), ("familyName", user.last_name)))
    emails = [{"value": user.email, "type": "work"}] if user.email else None
    photos = [{"value": user.photo_url, "type": "photo"}] if user.photo_url else None
    listed = [
        {"value": str(pk), "$ref": location(GROUP, pk), "display": display, "type": "direct"}
        for pk, display in groups or ()
    ]
    return {
        "schemas": [USER_SCHEMA],
        "id": str(user.pk),
        **_present([("externalId", user.external_id)]),
        "userName": user.username,
        **_present([("name", name), ("displayName", user.display_name), ("title", user.title)]),
        "active": user.is_active,
        **_present([("emails", emails), ("photos", photos), ("groups", listed)]),
    }


def _user_enterprise(user: User) -> dict[str, Any]:
    enterprise = _present(
        (
            ("employeeNumber", user.employee_number),
            ("costCenter", user.cost_center),
            ("organization", user.organization),
            ("division", user.division),
            ("department", user.department),
        )
    )
    if user.manager_id:
        enterprise["manager"] = {
            "value": str(user.manager_id),
            "$ref": location(USER, user.manager_id),
        }
    elif user.pending_manager_ref:
        # Named by the IdP, not here yet: linked when they arrive (SCIM_DIALECTS.md).
        enterprise["manager"] = {"value": user.pending_manager_ref}
    return enterprise


def _user_axero(user: User, custom_fields: Mapping[str, CustomField]) -> dict[str, Any]:
    axero: dict[str, Any] = {}
    if user.hired_at:
        axero["hireDate"] = timestamp(user.hired_at)
    elif user.hire_date:
        axero["hireDate"] = date_as_datetime(user.hire_date)
    for key, value in sorted(user.custom.items()):
        field = custom_fields.get(key)
        if field is not None and value is not None:
            axero[key] = _custom_value(field, value)
    return axero


def group_resource(
    role: Role, *, projection: Projection, member_ids: Iterable[uuid.UUID | str] | None
) -> dict[str, Any]:
    """A role as a SCIM group; `member_ids` are its SCIM-granted members, if wanted."""
    body: dict[str, Any] = {"schemas": [GROUP_SCHEMA], "id": str(role.pk)}
    if role.external_id:
        body["externalId"] = role.external_id
    body["displayName"] = role.display_name
    if member_ids is not None:
        users_url = f"{base_url()}/Users/"
        ids = [str(pk) for pk in member_ids]
        members = [{"value": pk, "$ref": users_url + pk, "type": "User"} for pk in ids]
        if members:
            body["members"] = members
    body["meta"] = _meta(GROUP, role)
    return projection.apply(body)


def list_response(
    resources: list[dict[str, Any]], *, total: int, start_index: int
) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }
