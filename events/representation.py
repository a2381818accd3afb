"""A user as the events feed shows them: the SCIM representation.

An event keeps the user's row as it was when the change committed (`user_row`: the
table's columns, never the password hash), written by one INSERT ... SELECT inside the
change's transaction; the SCIM representation is rendered from that snapshot when the
event is read (feed page, webhook message). Rendering in the transaction cost a 1,000-user
Bulk request about 170 ms (a SELECT building 1,000 model instances, the renderer, and
an INSERT adapting 1,000 JSON values: BENCHMARKS.md, "Directory events"); the snapshot
costs one statement.

The SCIM renderer lives in scim/, a protocol app this domain app never imports; scim
registers it here (ScimConfig.ready()). Without it (a deployment or test that leaves
scim out) a small domain-side rendering with the same core shape is used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from users.models import CustomField, User
from users.selectors import LazyCustomFields

UserRenderer = Callable[[User, Mapping[str, CustomField]], dict[str, Any]]
USER_ROW: Final = "user_row"

_renderer: list[UserRenderer] = []
_FIELDS: Final[dict[str, Any]] = {
    field.column or field.attname: field for field in User._meta.concrete_fields
}


def user_renderer_register(renderer: UserRenderer) -> None:
    """Called by scim's AppConfig.ready(): the last registration wins."""
    _renderer[:] = [renderer]


def _plain(user: User, custom_fields: Mapping[str, CustomField]) -> dict[str, Any]:
    body: dict[str, Any] = {"id": str(user.pk), "userName": user.username}
    body["name"] = {"givenName": user.first_name, "familyName": user.last_name}
    if user.email:
        body["emails"] = [{"value": user.email, "type": "work"}]
    body["active"] = user.is_active
    body["title"] = user.title
    body["department"] = user.department
    body["manager"] = str(user.manager_id) if user.manager_id else None
    body["hireDate"] = user.hire_date.isoformat() if user.hire_date else None
    body["custom"] = {k: v for k, v in user.custom.items() if k in custom_fields}
    return body


def user_from_row(row: Mapping[str, Any]) -> User:
    """The User a snapshot row describes (to_jsonb's text forms read back by each field)."""
    values = {
        field.attname: field.to_python(row[column])
        for column, field in _FIELDS.items()
        if column in row
    }
    return User(**values)


def user_render(user: User, custom_fields: Mapping[str, CustomField]) -> dict[str, Any]:
    render = _renderer[0] if _renderer else _plain
    return render(user, custom_fields)


def data_rendered(
    data: dict[str, Any], custom_fields: Mapping[str, CustomField] | None = None
) -> dict[str, Any]:
    """An event's data as readers see it: a user snapshot becomes its representation."""
    if USER_ROW not in data:
        return data
    rendered = {key: value for key, value in data.items() if key != USER_ROW}
    fields = custom_fields if custom_fields is not None else LazyCustomFields()
    return {"user": user_render(user_from_row(data[USER_ROW]), fields), **rendered}
