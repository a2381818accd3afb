"""A user as the events feed shows them: the SCIM representation.

The SCIM renderer lives in scim/, a protocol app this domain app never imports; scim
registers it here (ScimConfig.ready()). Without it (a deployment or test that leaves
scim out) a small domain-side rendering with the same core shape is used.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping
from typing import Any

from users.models import CustomField, User
from users.selectors import LazyCustomFields

UserRenderer = Callable[[User, Mapping[str, CustomField]], dict[str, Any]]

_renderer: list[UserRenderer] = []


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


def user_representations(user_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """Each user's representation, in one query whatever their number."""
    if not user_ids:
        return {}
    render = _renderer[0] if _renderer else _plain
    custom_fields = LazyCustomFields()  # read only when someone has custom values
    users = User.objects.filter(pk__in=list(user_ids))
    return {user.pk: render(user, custom_fields) for user in users}
