"""The directory's domain events: the one list of what users/ announces.

Services publish inside their transaction; listeners (personas/, media/) subscribe in
their AppConfig.ready(). users/ never imports its listeners, so the dependency points
one way. Two kinds of listener:

- after commit (`subscribe`): delivered once the change is committed, never on
  rollback; a failing listener is logged and never undoes the committed change.
- in the transaction (`subscribe_in_transaction`): a transactional outbox — the
  listener writes its own to-do rows in the same transaction as the change, so they
  commit (or roll back) with it: no second commit per change, nothing lost between
  the commit and a listener. Such a listener must only write rows; its failure fails
  the change.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import transaction

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UserCreated:
    user_id: uuid.UUID

    # The kind of actor that made the change ("scim", "idp", "admin", "person",
    # "system"), for the events feed. Not part of equality.
    actor_kind: str = field(default="", compare=False)


@dataclass(frozen=True)
class UsersCreated:
    """Several users created at once (users_create_many, a SCIM Bulk of creates): one
    event for all of them, so a listener handles the batch with one statement. A
    listener of UserCreated must listen to this one too."""

    user_ids: frozenset[uuid.UUID]
    actor_kind: str = field(default="", compare=False)


@dataclass(frozen=True)
class UserChanged:
    user_id: uuid.UUID
    fields: frozenset[str] = field(default_factory=frozenset)
    actor_kind: str = field(default="", compare=False)


@dataclass(frozen=True)
class UserDeactivated:
    """Published with the UserChanged(is_active) of a deactivation, for listeners that
    tell a deactivation from an edit (the events feed)."""

    user_id: uuid.UUID
    actor_kind: str = field(default="", compare=False)


@dataclass(frozen=True)
class UserReactivated:
    user_id: uuid.UUID
    actor_kind: str = field(default="", compare=False)


@dataclass(frozen=True)
class ManagerChanged:
    """Several users got a new manager at once (deferred links when the manager arrives,
    reports unlinked when their manager is deleted): one event for all of them."""

    user_ids: frozenset[uuid.UUID]
    manager_id: uuid.UUID | None
    actor_kind: str = field(default="", compare=False)


@dataclass(frozen=True)
class UserDeleted:
    user_id: uuid.UUID
    # What the feed says of someone who is gone (their row is deleted with the event).
    username: str = field(default="", compare=False)
    external_id: str = field(default="", compare=False)
    actor_kind: str = field(default="", compare=False)


@dataclass(frozen=True)
class RoleMembersChanged:
    role_id: uuid.UUID
    added: frozenset[uuid.UUID] = field(default_factory=frozenset)
    removed: frozenset[uuid.UUID] = field(default_factory=frozenset)
    actor_kind: str = field(default="", compare=False)


@dataclass(frozen=True)
class UserRolesChanged:
    """One user's roles from one source changed (a SAML login's role sync): one event
    per user rather than one per role, so a login storm costs listeners one call each."""

    user_id: uuid.UUID
    source: str
    added: frozenset[uuid.UUID] = field(default_factory=frozenset)  # role ids
    removed: frozenset[uuid.UUID] = field(default_factory=frozenset)
    actor_kind: str = field(default="", compare=False)
    # The display names of the roles in added and removed, as the sync read them, so a
    # listener does not read them again.
    role_names: Mapping[uuid.UUID, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class RoleRenamed:
    """A role's name changed (rules and SAML assertions name roles)."""

    role_id: uuid.UUID


@dataclass(frozen=True)
class RoleDeleted:
    role_id: uuid.UUID
    former_members: frozenset[uuid.UUID] = field(default_factory=frozenset)
    display_name: str = field(default="", compare=False)  # the role's row is gone
    actor_kind: str = field(default="", compare=False)


@dataclass(frozen=True)
class PhotoUrlSet:
    user_id: uuid.UUID
    url: str
    # The kind of actor that set it (ActorKind: "scim", "idp", "admin", "system"), so the
    # image pipeline can record where a fetched image came from. Not part of equality:
    # the same URL for the same user is the same announcement.
    origin: str = field(default="", compare=False)


@dataclass(frozen=True)
class UserImageChanged:
    """The stored profile image changed (version None: removed); published by the image
    pipeline's call of user_image_recorded."""

    user_id: uuid.UUID
    version: str | None


Event = (
    UserCreated
    | UsersCreated
    | UserChanged
    | UserDeactivated
    | UserReactivated
    | ManagerChanged
    | UserDeleted
    | RoleMembersChanged
    | UserRolesChanged
    | RoleRenamed
    | RoleDeleted
    | PhotoUrlSet
    | UserImageChanged
)
Handler = Callable[[Event], None]
E = TypeVar("E", bound=Event)

# Per event type, its listeners. A listener is typed by the event it takes
# (`def on_user_created(event: UserCreated)`): subscribing it to another type fails mypy.
_subscribers: dict[type, list[Callable[[Any], None]]] = defaultdict(list)
_in_transaction: dict[type, list[Callable[[Any], None]]] = defaultdict(list)


def subscribe(event_type: type[E], handler: Callable[[E], None]) -> None:
    """Register a listener (call from AppConfig.ready(); registering twice is a no-op)."""
    if handler not in _subscribers[event_type]:
        _subscribers[event_type].append(handler)


def subscribe_in_transaction(event_type: type[E], handler: Callable[[E], None]) -> None:
    """Register a listener that runs inside the publishing transaction (see above)."""
    if handler not in _in_transaction[event_type]:
        _in_transaction[event_type].append(handler)


def unsubscribe(event_type: type[E], handler: Callable[[E], None]) -> None:
    for registry in (_subscribers, _in_transaction):
        if handler in registry[event_type]:
            registry[event_type].remove(handler)


def _dispatch(event: Event) -> None:
    for handler in list(_subscribers[type(event)]):
        try:
            handler(event)
        except Exception:
            logger.exception("event subscriber failed", extra={"event": type(event).__name__})


def publish_on_commit(event: Event) -> None:
    """Deliver the event to in-transaction listeners now, and to the others once the
    surrounding transaction commits (never on rollback). Services call it inside their
    own transaction, so the outbox rows commit with the change."""
    for handler in list(_in_transaction[type(event)]):
        handler(event)
    transaction.on_commit(lambda: _dispatch(event))
