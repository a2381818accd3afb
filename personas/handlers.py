"""What personas does when the directory announces a change (users.events).

Handlers run inside the directory's transaction (users.events' outbox listeners), in
SCIM and SAML requests: they only mark the affected users as pending (one INSERT that
commits with the change itself) and ask for the drain task after the commit. They
never evaluate inline and never let a broker error reach the request.
"""

from __future__ import annotations

import uuid

from personas.queue import drain_after_commit
from personas.rules.attributes import BUILTIN, ROLES
from personas.services.pending import FULL_EVALUATION_THRESHOLD, pending_mark_users
from users import events
from users.models import RoleMembership, User

# The user fields a rule reads (personas.rules.attributes.BUILTIN, plus the custom
# values); a change of any other field (cost centre, external id, photo...) cannot
# change anyone's match. Roles arrive through their own events.
_MATCHED_FIELDS = frozenset(
    {field for field, kind in BUILTIN.values() if kind != ROLES} | {"custom"}
)
# A manager's name or email is what `manager` conditions of their reports compare to.
_MANAGER_KEYS = frozenset({"username", "email"})


def _mark(user_ids: frozenset[uuid.UUID] | set[uuid.UUID]) -> None:
    if user_ids:
        pending_mark_users(user_ids=user_ids)
        drain_after_commit()


def on_user_created(event: events.UserCreated) -> None:
    _mark({event.user_id})


def on_users_created(event: events.UsersCreated) -> None:
    _mark(event.user_ids)


def on_user_changed(event: events.UserChanged) -> None:
    # An event that does not say what changed is taken to change everything.
    affected = {event.user_id} if not event.fields or event.fields & _MATCHED_FIELDS else set()
    if event.fields & _MANAGER_KEYS:
        affected |= set(User.objects.filter(manager_id=event.user_id).values_list("pk", flat=True))
    _mark(affected)


def on_manager_changed(event: events.ManagerChanged) -> None:
    _mark(event.user_ids)


def on_role_members_changed(event: events.RoleMembersChanged) -> None:
    _mark(event.added | event.removed)


def on_user_roles_changed(event: events.UserRolesChanged) -> None:
    _mark({event.user_id})


def on_role_renamed(event: events.RoleRenamed) -> None:
    # `roles` conditions compare names: every member may match differently now. Read at
    # most one past the threshold: beyond it the mark is "evaluate everyone" anyway.
    members = RoleMembership.objects.filter(role_id=event.role_id).values_list("user_id", flat=True)
    _mark(set(members.distinct()[: FULL_EVALUATION_THRESHOLD + 1]))


def on_role_deleted(event: events.RoleDeleted) -> None:
    _mark(event.former_members)


def subscribe_all() -> None:
    """Called from PersonasConfig.ready()."""
    events.subscribe_in_transaction(events.UserCreated, on_user_created)
    events.subscribe_in_transaction(events.UsersCreated, on_users_created)
    events.subscribe_in_transaction(events.UserChanged, on_user_changed)
    events.subscribe_in_transaction(events.ManagerChanged, on_manager_changed)
    events.subscribe_in_transaction(events.RoleMembersChanged, on_role_members_changed)
    events.subscribe_in_transaction(events.UserRolesChanged, on_user_roles_changed)
    events.subscribe_in_transaction(events.RoleRenamed, on_role_renamed)
    events.subscribe_in_transaction(events.RoleDeleted, on_role_deleted)
