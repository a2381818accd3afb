"""/Groups (= roles): list, get, create, replace, patch, delete.

Members are the SCIM-granted members only (source "scim"); a PATCH answers 204
unless the client asks for attributes, and never reads the member list to do so.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from axero_idp.errors import NotFound, ValidationFailed
from scim.attributes import GROUP
from scim.errors import Mutability
from scim.filters import filter_groups, order_groups
from scim.listing import Query, check_if_match, not_modified, page_of
from scim.parse import lowered_keys, multi_values
from scim.patch import clean_external_id, group_patch, member_ids, operations
from scim.queries import role_for_update, scim_member_ids
from scim.render import Projection, etag, group_resource, list_response, location
from scim.result import Result
from users.models import MembershipSource, Role, RoleMembership
from users.selectors import role_get
from users.services import (
    Actor,
    role_create,
    role_delete,
    role_members_add,
    role_members_replace,
    role_rename,
)


def _found(role: Role | None, pk: str) -> Role:
    if role is None:
        raise NotFound(f"Group {pk} not found.")
    return role


def _render(role: Role, projection: Projection) -> dict[str, Any]:
    members = scim_member_ids(role) if projection.wants("members") else None
    return group_resource(role, projection=projection, member_ids=members)


def scim_groups_matching(query: Query) -> QuerySet[Role]:
    roles = Role.objects.all()
    if query.filter:
        roles = filter_groups(roles, query.filter)
    return order_groups(roles, query.sort_by, query.sort_order)


def scim_groups_render(page: list[Role], projection: Projection) -> list[dict[str, Any]]:
    """A page of groups; the members of all of them in one query, when wanted."""
    if not projection.wants("members"):
        return [group_resource(r, projection=projection, member_ids=None) for r in page]
    members: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    rows = (
        RoleMembership.objects.filter(
            role_id__in=[r.pk for r in page], source=MembershipSource.SCIM
        )
        .order_by("role_id", "user_id")
        .values_list("role_id", "user_id")
    )
    for role_id, user_id in rows:
        members[role_id].append(user_id)
    return [group_resource(r, projection=projection, member_ids=members[r.pk]) for r in page]


def scim_groups_query(query: Query) -> Result:
    projection = Projection(GROUP, query.attributes, query.excluded)
    page, total = page_of(scim_groups_matching(query), query)
    resources = scim_groups_render(page, projection)
    return Result(200, list_response(resources, total=total, start_index=query.start_index))


def scim_group_read(pk: str, projection: Projection, *, if_none_match: str | None = None) -> Result:
    role = _found(role_get(pk), pk)
    tag = etag(role.version)
    if not_modified(if_none_match, tag):
        return Result(304, etag=tag)
    return Result(200, _render(role, projection), etag=tag)


def _name(body: Mapping[str, Any]) -> str:
    lowered = {str(k).lower(): v for k, v in body.items()}
    name = lowered.get("displayname")
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed("displayName is required.")
    return name


def _external_id(body: Mapping[str, Any]) -> str | None:
    return clean_external_id({str(k).lower(): v for k, v in body.items()}.get("externalid"))


def _members(body: Mapping[str, Any]) -> set[uuid.UUID] | None:
    lowered = {str(k).lower(): v for k, v in body.items()}
    if "members" not in lowered:
        return None
    return member_ids(multi_values(lowered["members"]))


def scim_group_create(body: Mapping[str, Any], projection: Projection, *, actor: Actor) -> Result:
    with transaction.atomic():
        role = role_create(actor=actor, display_name=_name(body), external_id=_external_id(body))
        ids = _members(body)
        if ids:
            role_members_add(role=role, user_ids=ids, source=MembershipSource.SCIM, actor=actor)
    role.refresh_from_db()
    return Result(
        201, _render(role, projection), etag=etag(role.version), location=location(GROUP, role.pk)
    )


def scim_group_replace(
    pk: str, body: Mapping[str, Any], projection: Projection, *, actor: Actor, if_match: str | None
) -> Result:
    """Full replace: name, external id, and the SCIM-granted members."""
    given_id = lowered_keys(body).get("id")
    if given_id is not None and str(given_id) != pk:
        raise Mutability("Attribute 'id' is read-only and cannot change.")
    with transaction.atomic():
        role = _found(role_for_update(pk), pk)
        check_if_match(if_match, etag(role.version))
        role = role_rename(
            role=role, actor=actor, display_name=_name(body), external_id=_external_id(body)
        )
        role_members_replace(
            role=role, user_ids=_members(body) or set(), source=MembershipSource.SCIM, actor=actor
        )
    role.refresh_from_db()
    return Result(200, _render(role, projection), etag=etag(role.version))


def scim_group_modify(
    pk: str,
    body: Mapping[str, Any],
    projection: Projection,
    *,
    actor: Actor,
    if_match: str | None,
    answer: bool,
) -> Result:
    """Apply a PatchOp; 204 unless `answer` (the client named attributes)."""
    ops = operations(body)
    with transaction.atomic():
        role = _found(role_for_update(pk), pk)
        check_if_match(if_match, etag(role.version))
        role = group_patch(role, ops, actor=actor)
    role.refresh_from_db(fields=["version", "updated_at", "display_name", "external_id"])
    if not answer:
        return Result(204, etag=etag(role.version))
    return Result(200, _render(role, projection), etag=etag(role.version))


def scim_group_delete(pk: str, *, actor: Actor, if_match: str | None) -> Result:
    with transaction.atomic():
        role = _found(role_for_update(pk), pk)
        check_if_match(if_match, etag(role.version))
        role_delete(role=role, actor=actor)
    return Result(204)
