"""Writing the outbox: users.events' in-transaction listeners and personas' membership
sink turn each domain change into Event rows of the same transaction.

Each listener writes its rows with one statement (user events: an INSERT ... SELECT of
the users' row snapshots, events.representation), whatever the number of users a batch
event names, and asks for delivery after commit
(events.queue): a broker that is down at that moment loses nothing, since the rows
are the truth and beat delivers what is left.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, Final

from django.utils import timezone

from axero_idp import rawsql
from axero_idp.db import insert_many_behind
from events import catalogue as types
from events.models import Event
from events.queue import dispatch_after_commit
from personas import events as membership_events
from users import events
from users.models import Role, User
from users.selectors import user_image_url

# Model field names as the SCIM attribute names a downstream app knows.
_ATTRIBUTE_NAMES: Final = {
    "username": "userName",
    "first_name": "name.givenName",
    "last_name": "name.familyName",
    "display_name": "displayName",
    "email": "emails",
    "external_id": "externalId",
    "photo_url": "photos",
    "is_active": "active",
    "employee_number": "employeeNumber",
    "cost_center": "costCenter",
    "hire_date": "hireDate",
    "hired_at": "hireDate",
}
# Internal bookkeeping: not something a downstream app can see.
_HIDDEN_FIELDS: Final = frozenset({"pending_manager_ref", "connection", "version", "updated_at"})

EVENTS_TABLE: Final = Event._meta.db_table


def _write(rows: Iterable[Event]) -> None:
    # Written behind (axero_idp.db): append-only rows nobody reads back in the request
    # ride with the transaction's next statement or its COMMIT.
    events = list(rows)
    if events:
        insert_many_behind(events)
        dispatch_after_commit()


def _event(kind: str, actor_kind: str, data: dict[str, Any]) -> Event:
    return Event(type=kind, actor_kind=str(actor_kind), data=data, created_at=timezone.now())


# One statement per listener call, whatever the number of users: each event keeps the
# user's row as committed (never the password hash); events.representation renders it.
# Set-based: 83 ms for 1,000 users against 6.6 s for reading them and bulk_create with
# a Python snapshot each (bench/rawsql_gains.py); statement count: tests/events.
_USER_ROWS_SQL: Final = (
    f"INSERT INTO {EVENTS_TABLE} (type, created_at, actor_kind, data)"  # noqa: S608
    " SELECT %s, %s, %s, jsonb_build_object('user_row', to_jsonb(u) - 'password') || %s::jsonb"
    f" FROM {User._meta.db_table} u WHERE u.id = ANY(%s::uuid[]) ORDER BY u.username"
)


def _users_events(kind: str, user_ids: Iterable[uuid.UUID], actor_kind: str, **extra: Any) -> None:
    """Write one `kind` event per user, with their row snapshot and `extra` in data."""
    ids = sorted({str(pk) for pk in user_ids})
    if not ids:
        return
    # Written behind (axero_idp.db): the INSERT rides with the transaction's next
    # statement, so it still snapshots the rows as they are at this point of the
    # transaction; outbox rows are append-only (position is stamped later). Its row
    # count is not known here: a dispatch for users that all vanished finds nothing.
    rawsql.write_behind(
        _USER_ROWS_SQL, [kind, timezone.now(), str(actor_kind), json.dumps(extra), ids]
    )
    dispatch_after_commit()


def changed_attributes(fields: Iterable[str]) -> list[str]:
    return sorted({_ATTRIBUTE_NAMES.get(f, f) for f in fields if f not in _HIDDEN_FIELDS})


def on_user_created(event: events.UserCreated) -> None:
    _users_events(types.USER_CREATED, [event.user_id], event.actor_kind)


def on_users_created(event: events.UsersCreated) -> None:
    _users_events(types.USER_CREATED, event.user_ids, event.actor_kind)


def on_user_changed(event: events.UserChanged) -> None:
    # `active` alone is a deactivation or reactivation: those have their own events.
    changed = changed_attributes(event.fields - {"is_active"})
    if changed:
        _users_events(types.USER_UPDATED, [event.user_id], event.actor_kind, changed=changed)


def on_manager_changed(event: events.ManagerChanged) -> None:
    _users_events(types.USER_UPDATED, event.user_ids, event.actor_kind, changed=["manager"])


def on_user_deactivated(event: events.UserDeactivated) -> None:
    _users_events(types.USER_DEACTIVATED, [event.user_id], event.actor_kind)


def on_user_reactivated(event: events.UserReactivated) -> None:
    _users_events(types.USER_REACTIVATED, [event.user_id], event.actor_kind)


def on_user_deleted(event: events.UserDeleted) -> None:
    user = {"id": str(event.user_id), "userName": event.username}
    if event.external_id:
        user["externalId"] = event.external_id
    _write([_event(types.USER_DELETED, event.actor_kind, {"user": user})])


RoleChange = tuple[uuid.UUID, Iterable[uuid.UUID], Iterable[uuid.UUID]]


def _role_members_events(
    changes: Sequence[RoleChange],
    actor_kind: str,
    names: dict[uuid.UUID, str] | None = None,
) -> list[Event]:
    """One role.members_changed per role: (role id, added user ids, removed user ids)."""
    if names is None:
        ids = [role_id for role_id, _, _ in changes]
        names = dict(Role.objects.filter(pk__in=ids).values_list("pk", "display_name"))
    return [
        _event(
            types.ROLE_MEMBERS_CHANGED,
            actor_kind,
            {
                "role": {"id": str(role_id), "displayName": names.get(role_id, "")},
                "added": sorted(str(pk) for pk in added),
                "removed": sorted(str(pk) for pk in removed),
            },
        )
        for role_id, added, removed in changes
    ]


def on_role_members_changed(event: events.RoleMembersChanged) -> None:
    if event.added or event.removed:
        _write(
            _role_members_events([(event.role_id, event.added, event.removed)], event.actor_kind)
        )


def on_user_roles_changed(event: events.UserRolesChanged) -> None:
    me = [event.user_id]
    changes: list[RoleChange] = [(pk, me, []) for pk in event.added] + [
        (pk, [], me) for pk in event.removed
    ]
    _write(_role_members_events(changes, event.actor_kind, dict(event.role_names) or None))


def on_role_deleted(event: events.RoleDeleted) -> None:
    if event.former_members:
        changes: list[RoleChange] = [(event.role_id, [], event.former_members)]
        names = {event.role_id: event.display_name}
        _write(_role_members_events(changes, event.actor_kind, names))


def on_user_image_changed(event: events.UserImageChanged) -> None:
    image = None
    if event.version:
        image = {"version": event.version, "url": user_image_url(event.user_id, event.version)}
    data = {"user": {"id": str(event.user_id)}, "image": image}
    _write([_event(types.USER_IMAGE_CHANGED, "system", data)])


class MembershipOutbox:
    """personas' membership sink: space.member_added / removed rows, set-based."""

    def statement(
        self,
        change: membership_events.MembershipChange,
        rows_sql: str,
        rows_params: Sequence[Any],
    ) -> tuple[str, list[Any]]:
        dispatch_after_commit()
        sql = (
            f"INSERT INTO {EVENTS_TABLE} (type, created_at, actor_kind, data)"  # noqa: S608
            " SELECT %s, %s, %s, jsonb_build_object("
            "'space', jsonb_build_object('id', r.space_id, 'slug', r.space_slug),"
            " 'user', jsonb_build_object('id', r.user_id::text),"
            " 'role', r.role, 'source', r.source, 'persona', r.persona_slug)"
            f" FROM ({rows_sql}) r"
        )
        return sql, [change.kind, change.at, change.actor_kind, *rows_params]

    def record(
        self,
        change: membership_events.MembershipChange,
        rows: Sequence[membership_events.MembershipRow],
    ) -> None:
        _write(
            Event(
                type=change.kind,
                created_at=change.at,
                actor_kind=change.actor_kind,
                data=_membership_data(row),
            )
            for row in rows
        )


def _membership_data(row: membership_events.MembershipRow) -> dict[str, Any]:
    return {
        "space": {"id": row.space_id, "slug": row.space_slug},
        "user": {"id": str(row.user_id)},
        "role": row.role,
        "source": row.source,
        "persona": row.persona_slug,
    }


_MEMBERSHIP_OUTBOX: Final = MembershipOutbox()


def subscribe_all() -> None:
    """Called from EventsConfig.ready()."""
    listen = events.subscribe_in_transaction
    listen(events.UserCreated, on_user_created)
    listen(events.UsersCreated, on_users_created)
    listen(events.UserChanged, on_user_changed)
    listen(events.ManagerChanged, on_manager_changed)
    listen(events.UserDeactivated, on_user_deactivated)
    listen(events.UserReactivated, on_user_reactivated)
    listen(events.UserDeleted, on_user_deleted)
    listen(events.RoleMembersChanged, on_role_members_changed)
    listen(events.UserRolesChanged, on_user_roles_changed)
    listen(events.RoleDeleted, on_role_deleted)
    listen(events.UserImageChanged, on_user_image_changed)
    membership_events.sink_register(_MEMBERSHIP_OUTBOX)
