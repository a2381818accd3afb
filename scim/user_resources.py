"""/Users: list, get, create, replace, patch, delete, each a call of users.services
with Actor.scim(token name)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from axero_idp.errors import NotFound, ValidationFailed
from scim.attributes import USER, schema_for_urn
from scim.errors import Mutability
from scim.filters import filter_users, order_users
from scim.listing import Query, check_if_match, not_modified, page_of
from scim.parse import UserInput, flatten, lowered_keys, user_input
from scim.patch import Operation, operations, user_patch_state
from scim.paths import parse_path
from scim.queries import roles_of_users, user_for_update
from scim.render import Projection, etag, list_response, location, user_resource
from scim.result import Result
from users import selectors
from users.models import CustomField, Source, UnmappedAttribute, User
from users.selectors import LazyCustomFields, custom_fields_by_key
from users.services import (
    Actor,
    NewUser,
    attributes_unmapped_record,
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


def scim_users_matching(query: Query) -> QuerySet[User]:
    """The users a list or .search selects, in a stable order (local accounts never)."""
    users = selectors.users_provisioned()
    if query.filter:
        users = filter_users(users, query.filter)
    return order_users(users, query.sort_by, query.sort_order)


def scim_users_render(page: list[User], projection: Projection) -> list[dict[str, Any]]:
    """A page of users: custom field definitions and groups in one query each."""
    # Definitions are needed only to render custom values.
    fields = custom_fields_by_key() if any(u.custom for u in page) else {}
    groups = roles_of_users([u.pk for u in page]) if page and projection.wants("groups") else {}
    return [
        user_resource(u, projection=projection, custom_fields=fields, groups=groups.get(u.pk, []))
        for u in page
    ]


def scim_users_query(query: Query) -> Result:
    projection = Projection(USER, query.attributes, query.excluded)
    page, total = page_of(scim_users_matching(query), query)
    resources = scim_users_render(page, projection)
    return Result(200, list_response(resources, total=total, start_index=query.start_index))


def scim_user_read(pk: str, projection: Projection, *, if_none_match: str | None = None) -> Result:
    user = _found(selectors.provisioned_user_get(pk), pk)
    tag = etag(user.version)
    if not_modified(if_none_match, tag):
        return Result(304, etag=tag)
    fields = custom_fields_by_key() if user.custom else {}
    return Result(200, _render(user, projection, fields), etag=tag)


def _input(
    body: Mapping[str, Any],
    fields: Mapping[str, CustomField],
    *,
    new: bool = False,
    ignored: list[str] | None = None,
) -> UserInput:
    data = user_input(
        flatten(USER, body, custom_fields=fields, ignored=ignored),
        custom_fields=fields,
        clear_absent_custom=not new,
    )
    if not data.username or not data.username.strip():
        raise ValidationFailed("userName is required.")
    return data


def _unmapped_record(actor: Actor, ignored: list[str]) -> None:
    attributes_unmapped_record(
        protocol=UnmappedAttribute.Protocol.SCIM, names=ignored, connection_id=actor.connection_id
    )


def scim_user_create_input(
    body: Mapping[str, Any],
    fields: Mapping[str, CustomField],
    *,
    ignored: list[str] | None = None,
) -> UserInput:
    """A POST body as the directory's values (a Bulk of creates reads each one so);
    attributes that map to no field are appended to `ignored`."""
    return _input(body, fields, new=True, ignored=ignored)


def new_user(data: UserInput, *, ignored: Sequence[str] = ()) -> NewUser:
    """What a POST asks the directory to create: only the values it sends, so the
    directory's defaults fill the rest."""
    assert data.username is not None
    return NewUser(
        username=data.username,
        attributes={k: v for k, v in data.attributes.items() if v not in (None, "")},
        custom={k: v for k, v in data.custom.items() if v is not None},
        manager_ref=data.manager_ref,
        is_active=True if data.active is None else data.active,
        ignored=tuple(ignored),
    )


def scim_user_create(
    body: Mapping[str, Any],
    projection: Projection,
    *,
    actor: Actor,
    ignored: list[str] | None = None,
) -> Result:
    """Create a user; attributes that map to no field are appended to `ignored`."""
    fields = LazyCustomFields()
    ignored = [] if ignored is None else ignored
    wanted = new_user(scim_user_create_input(body, fields, ignored=ignored), ignored=ignored)
    user = user_create(
        actor=actor,
        source=Source.SCIM,
        username=wanted.username,
        attributes=wanted.attributes,
        custom=wanted.custom,
        manager_ref=wanted.manager_ref,
        is_active=wanted.is_active,
        ignored=wanted.ignored,
    )
    _unmapped_record(actor, ignored)
    return Result(
        201,
        _render(user, projection, fields, new=True),
        etag=etag(user.version),
        location=location(USER, user.pk),
    )


def _write(
    user: User,
    data: UserInput,
    *,
    actor: Actor,
    manager: bool = True,
    ignored: Sequence[str] = (),
) -> User:
    assert data.username is not None
    attributes = {"username": data.username, **data.attributes}
    # The callers read the user with user_for_update() in the transaction they hold.
    if manager:
        user = user_update(
            user=user,
            actor=actor,
            attributes=attributes,
            custom=data.custom or None,
            manager_ref=data.manager_ref,
            ignored=ignored,
            locked=True,
        )
    else:
        user = user_update(
            user=user,
            actor=actor,
            attributes=attributes,
            custom=data.custom or None,
            ignored=ignored,
            locked=True,
        )
    if data.active is False:
        user = user_deactivate(user=user, actor=actor, reason="SCIM: active set to false")
    elif data.active is True:
        user = user_reactivate(user=user, actor=actor, reason="SCIM: active set to true")
    return user


def scim_user_replace(
    pk: str,
    body: Mapping[str, Any],
    projection: Projection,
    *,
    actor: Actor,
    if_match: str | None,
    ignored: list[str] | None = None,
) -> Result:
    """Full replace: what the body leaves out is cleared (`active` left out is kept);
    attributes that map to no field are appended to `ignored`."""
    fields = custom_fields_by_key()
    given_id = lowered_keys(body).get("id")
    if given_id is not None and str(given_id) != pk:
        raise Mutability("Attribute 'id' is read-only and cannot change.")
    ignored = [] if ignored is None else ignored
    data = _input(body, fields, ignored=ignored)
    with transaction.atomic():
        user = _found(user_for_update(pk), pk)
        check_if_match(if_match, etag(user.version))
        user = _write(user, data, actor=actor, ignored=ignored)
    _unmapped_record(actor, ignored)
    user.refresh_from_db()
    return Result(200, _render(user, projection, fields), etag=etag(user.version))


def scim_user_state(user: User, fields: Mapping[str, CustomField]) -> dict[str, Any]:
    """The user's canonical SCIM state: what PATCH operations apply to."""
    body = user_resource(user, projection=Projection(USER), custom_fields=fields)
    return flatten(USER, body, custom_fields=fields)


def scim_user_modify(
    pk: str, body: Mapping[str, Any], projection: Projection, *, actor: Actor, if_match: str | None
) -> Result:
    fields = custom_fields_by_key()
    ops = operations(body)
    with transaction.atomic():
        user = _found(user_for_update(pk), pk)
        check_if_match(if_match, etag(user.version))
        before = scim_user_state(user, fields)
        after = user_patch_state(before, ops, custom_fields=fields)
        data = user_input(after, custom_fields=fields)
        if not data.username or not str(data.username).strip():
            raise ValidationFailed("userName is required and cannot be removed.")
        if "active" not in after or after["active"] == before.get("active"):
            data.active = None
        manager_changed = after.get("enterprise:manager") != before.get("enterprise:manager")
        if not _names_photos(ops, fields):
            # Only a PATCH that says something about photos carries the photo URL (and
            # so has the photo fetched again); the state holds it either way.
            data.attributes.pop("photo_url", None)
        user = _write(user, data, actor=actor, manager=manager_changed)
    user.refresh_from_db()
    return Result(200, _render(user, projection, fields), etag=etag(user.version))


def _names_photos(ops: list[Operation], fields: Mapping[str, CustomField]) -> bool:
    for op in ops:
        if op.path is None or schema_for_urn(USER, op.path) is not None:
            value = op.value if op.path is None else {op.path: op.value}
            if isinstance(value, dict) and "photos" in flatten(USER, value, custom_fields=fields):
                return True
        elif parse_path(USER, op.path, custom_fields=fields).attr == "photos":
            return True
    return False


def scim_user_delete(pk: str, *, actor: Actor, if_match: str | None) -> Result:
    """DELETE removes the account for good (GET answers 404 afterwards)."""
    with transaction.atomic():
        user = _found(user_for_update(pk), pk)
        check_if_match(if_match, etag(user.version))
        user_delete(user=user, actor=actor)
    return Result(204)
