"""The reads SCIM needs, shaped for the protocol (selectors decide the query cost).

A group's SCIM members are the members with source "scim" only: roles granted by
SAML or by an admin are not the IdP's to see or remove.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast

from users.models import MembershipSource, Role, RoleMembership, User
from users.selectors import users_provisioned


def user_for_update(pk: uuid.UUID | str) -> User | None:
    """The provisioned user under a row lock (call inside a transaction), or None: a
    local account is no SCIM resource, so PUT, PATCH and DELETE answer 404 for it."""
    key = _uuid(pk)
    if key is None:
        return None
    return users_provisioned().select_for_update().filter(pk=key).first()


def role_for_update(pk: uuid.UUID | str) -> Role | None:
    key = _uuid(pk)
    if key is None:
        return None
    return Role.objects.select_for_update().filter(pk=key).first()


def scim_member_ids(role: Role) -> QuerySet[RoleMembership, Any]:
    """The SCIM members' ids in one query on the (role, source, user) index; no join.

    As text from the database: building 50,000 UUID objects only to print them
    again costs more than the query itself.
    """
    members = RoleMembership.objects.filter(role=role, source=MembershipSource.SCIM).order_by(
        "user_id"
    )
    return members.annotate(uid=Cast("user_id", TextField())).values_list("uid", flat=True)


def role_member_ids_matching(role: Role, condition: Q, source: str) -> set[uuid.UUID]:
    """Ids of the role's members from source that a filter over User selects."""
    members = RoleMembership.objects.filter(role=role, source=source).values("user_id")
    return set(User.objects.filter(condition, pk__in=members).values_list("pk", flat=True))


def roles_of_users(user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[tuple[uuid.UUID, str]]]:
    """{user id: [(role id, role name)]} for a page of users, in one query."""
    rows = (
        RoleMembership.objects.filter(user_id__in=list(user_ids))
        .order_by("role__display_name")
        .values_list("user_id", "role_id", "role__display_name")
        .distinct()
    )
    out: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = defaultdict(list)
    for user_id, role_id, name in rows:
        out[user_id].append((role_id, name))
    return out


def _uuid(value: uuid.UUID | str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
