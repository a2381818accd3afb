"""/Users: list, get, create, replace, patch, delete, each a call of users.services
with Actor.scim(token name)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from axero_idp.errors import NotFound, ValidationFailed
from scim.attributes import USER
from scim.errors import Mutability
from scim.filters import filter_users, order_users
from scim.listing import Query, check_if_match, not_modified, page_of
from scim.parse import UserInput, flatten, user_input
from scim.patch import operations, user_patch_state
from scim.queries import roles_of_users, user_for_update
from scim.render import Projection, etag, list_response, location, user_resource
from scim.result import Result
from users import selectors
from users.models import CustomField, Source, User
from users.selectors import LazyCustomFields, custom_fields_by_key
from users.services import (
    Actor,
    NewUser,
    user_create,
    user_deactivate,
    user_delete,
    user_reactivate,
    user_update,
)


def _render(
    user: User, projection: Projection, fields: Mapping[str, CustomField], *, new: bool = False
) -> dict[str, Any]:
    groups = None
    if projection.wants("groups"):
        # A user created a moment ago holds no role yet: no query needed.
        groups = [] if new else roles_of_users([user.pk]).get(user.pk, [])
    return user_resource(user, projection=projection, custom_fields=fields, groups=groups)


def _found(user: User | None, pk: str) -> User:
    if user is None:
        raise NotFound(f"User {pk} not found.")
    return user


def users_matching(query: Query) -> QuerySet[User]:
    """The users a list or .search selects, in a stable order."""
    users = User.objects.all()
    if query.filter:
        users = filter_users(users, query.filter)
    return order_users(users, query.sort_by, query.sort_order)


def users_render(page: list[User], projection: Projection) -> list[dict[str, Any]]:
    """A page of users: custom field definitions and groups in one query each."""
    # Definitions are needed only to render custom values.
    fields = custom_fields_by_key() if any(u.custom for u in page) else {}
    groups = roles_of_users([u.pk for u in page]) if page and projection.wants("groups") else {}
    return [
        user_resource(u, projection=projection, custom_fields=fields, groups=groups.get(u.pk, []))
        for u in page
    ]


def users_list(query: Query) -> Result:
    projection = Projection(USER, query.attributes, query.excluded)
    page, total = page_of(users_matching(query), query)
    resources = users_render(page, projection)
    return Result(200, list_response(resources, total=total, start_index=query.start_index))


def user_get(pk: str, projection: Projection, *, if_none_match: str | None = None) -> Result:
    user = _found(selectors.user_get(pk), pk)
    tag = etag(user.version)
    if not_modified(if_none_match, tag):
        return Result(304, etag=tag)
    fields = custom_fields_by_key() if user.custom else {}
    return Result(200, _render(user, projection, fields), etag=tag)


def _input(
    body: Mapping[str, Any], fields: Mapping[str, CustomField], *, new: bool = False
) -> UserInput:
    data = user_input(
        flatten(USER, body, custom_fields=fields), custom_fields=fields, clear_absent_custom=not new
    )
    if not data.username or not data.username.strip():
        raise ValidationFailed("userName is required.")
    return data


def user_post_input(body: Mapping[str, Any], fields: Mapping[str, CustomField]) -> UserInput:
    """A POST body as the directory's values (a Bulk of creates reads each one so)."""
    return _input(body, fields, new=True)


def new_user(data: UserInput) -> NewUser:
    """What a POST asks the directory to create: only the values it sends, so the
    directory's defaults fill the rest."""
    assert data.username is not None
    return NewUser(
        username=data.username,
        attributes={k: v for k, v in data.attributes.items() if v not in (None, "")},
        custom={k: v for k, v in data.custom.items() if v is not None},
        manager_ref=data.manager_ref,
        is_active=True if data.active is None else data.active,
    )


def user_post(body: Mapping[str, Any], projection: Projection, *, actor: Actor) -> Result:
    fields = LazyCustomFields()
    data = user_post_input(body, fields)
    wanted = new_user(data)
    user = user_create(
        actor=actor,
        source=Source.SCIM,
        username=wanted.username,
        attributes=wanted.attributes,
        custom=wanted.custom,
        manager_ref=wanted.manager_ref,
        is_active=wanted.is_active,
    )
    return Result(
        201,
        _render(user, projection, fields, new=True),
        etag=etag(user.version),
        location=location(USER, user.pk),
    )


def _write(user: User, data: UserInput, *, actor: Actor, manager: bool = True) -> User:
    assert data.username is not None
    attributes = {"username": data.username, **data.attributes}
    if manager:
        user = user_update(
            user=user,
            actor=actor,
            attributes=attributes,
            custom=data.custom or None,
            manager_ref=data.manager_ref,
        )
    else:
        user = user_update(
            user=user, actor=actor, attributes=attributes, custom=data.custom or None
        )
    if data.active is False:
        user = user_deactivate(user=user, actor=actor, reason="SCIM: active set to false")
    elif data.active is True:
        user = user_reactivate(user=user, actor=actor, reason="SCIM: active set to true")
    return user


def user_put(
    pk: str, body: Mapping[str, Any], projection: Projection, *, actor: Actor, if_match: str | None
) -> Result:
    """Full replace: what the body leaves out is cleared (`active` left out is kept)."""
    fields = custom_fields_by_key()
    if "id" in body and str(body["id"]) != pk:
        raise Mutability("Attribute 'id' is read-only and cannot change.")
    data = _input(body, fields)
    with transaction.atomic():
        user = _found(user_for_update(pk), pk)
        check_if_match(if_match, etag(user.version))
        user = _write(user, data, actor=actor)
    user.refresh_from_db()
    return Result(200, _render(user, projection, fields), etag=etag(user.version))


def user_state(user: User, fields: Mapping[str, CustomField]) -> dict[str, Any]:
    """The user's canonical SCIM state: what PATCH operations apply to."""
    body = user_resource(user, projection=Projection(USER), custom_fields=fields)
    return flatten(USER, body, custom_fields=fields)


def user_patch(
    pk: str, body: Mapping[str, Any], projection: Projection, *, actor: Actor, if_match: str | None
) -> Result:
    fields = custom_fields_by_key()
    ops = operations(body)
    with transaction.atomic():
        user = _found(user_for_update(pk), pk)
        check_if_match(if_match, etag(user.version))
        before = user_state(user, fields)
        after = user_patch_state(before, ops, custom_fields=fields)
        data = user_input(after, custom_fields=fields)
        if not data.username or not str(data.username).strip():
            raise ValidationFailed("userName is required and cannot be removed.")
        if "active" not in after or after["active"] == before.get("active"):
            data.active = None
        manager_changed = after.get("enterprise:manager") != before.get("enterprise:manager")
        user = _write(user, data, actor=actor, manager=manager_changed)
    user.refresh_from_db()
    return Result(200, _render(user, projection, fields), etag=etag(user.version))


def user_remove(pk: str, *, actor: Actor, if_match: str | None) -> Result:
    """DELETE removes the account for good (GET answers 404 afterwards)."""
    with transaction.atomic():
        user = _found(user_for_update(pk), pk)
        check_if_match(if_match, etag(user.version))
        user_delete(user=user, actor=actor)
    return Result(204)
