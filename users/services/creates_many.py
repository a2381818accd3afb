"""Creating many users at once (an identity provider's first push: a SCIM Bulk of
thousands of creates), set-based: each user is validated on its own exactly as
user_create validates it, then the whole batch is written with a constant number of
statements whatever its size: one INSERT of the users, one of their audit records, one
of the persona outbox marks, a look-up of the reports waiting for them, and when the
batch names managers, three look-ups of those and one UPDATE of the reports linked.
Only the events of deferred manager links are per manager (one ManagerChanged for each
new user whom reports were waiting for, as user_create publishes it).

The case-insensitive unique index still decides every username clash: the INSERT skips
the rows it refuses (ON CONFLICT DO NOTHING) and those users get user_create's 409, so
two batches racing for the same username neither both create it nor fail as a whole.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from django.db import transaction
from django.utils import timezone

from axero_idp.errors import ApplicationError, UniquenessConflict
from users import events
from users.models import CustomField, Source, User
from users.services.actors import Actor
from users.services.audit import audit_record_many
from users.services.batch_managers import BatchUser, managers_plan, reports_link
from users.services.users import _json_value, unusable_password
from users.services.values import clean_attributes, clean_custom_values, stored_columns

# What one user's creation ended in: the user, the error that refused it, or None when
# it was not attempted (max_failures was reached before it).
Outcome = User | ApplicationError | None

_COLUMNS: Final = tuple(User._meta.concrete_fields)
# PostgreSQL binds at most 65,535 parameters per statement.
_ROWS_PER_INSERT: Final = 65_535 // len(_COLUMNS)


@dataclass(frozen=True)
class NewUser:
    """One user to create: user_create's arguments (the manager reference is resolved
    in SCIM's order: id, external id, user name)."""

    username: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    custom: Mapping[str, Any] = field(default_factory=dict)
    manager_ref: str | None = None
    is_active: bool = True
    # What the request carried that maps to no field (kept in the audit record).
    ignored: Sequence[str] = ()


def users_create_many(
    *,
    actor: Actor,
    source: Source | str,
    new_users: Sequence[NewUser],
    max_failures: int | None = None,
) -> list[Outcome]:
    """Create many users in one transaction; one outcome per new user, in order.

    Each user ends as user_create would have ended it, called once per user in order:
    the same validation errors, a 409 for a username taken before or earlier in the
    batch, the same stored fields (managers and deferred manager links included),
    audit records and events. With `max_failures`, the users after the one that
    brought the failures to that number are not created.
    """
    definitions = _custom_definitions(new_users)
    steps = [_prepared(item, source, definitions, actor.connection_id) for item in new_users]
    _refuse_batch_duplicates(steps)
    steps = _cut(steps, max_failures)
    if any(isinstance(s, BatchUser) for s in steps):
        steps = _write(actor=actor, source=source, steps=steps, max_failures=max_failures)
    return [s.user if isinstance(s, BatchUser) else s for s in steps]


_Step = BatchUser | ApplicationError | None


def _custom_definitions(new_users: Sequence[NewUser]) -> dict[str, CustomField]:
    keys = {key for item in new_users for key in item.custom}
    if not keys:
        return {}
    return {f.key: f for f in CustomField.objects.filter(key__in=keys)}


def _prepared(
    item: NewUser,
    source: Source | str,
    definitions: Mapping[str, CustomField],
    connection_id: int | None,
) -> _Step:
    """The unsaved user user_create would save, or the error it would raise."""
    try:
        values = clean_attributes({**item.attributes, "username": item.username})
        custom = clean_custom_values(item.custom, definitions=definitions)
    except ApplicationError as exc:
        return exc
    user = User(
        **stored_columns(values),
        custom={k: v for k, v in custom.items() if v is not None},
        source=source,
        is_active=item.is_active,
        is_staff=False,
        deactivated_at=None if item.is_active else timezone.now(),
        connection_id=connection_id,
    )
    user.password = unusable_password()
    return BatchUser(user, values, manager_ref=item.manager_ref, ignored=tuple(item.ignored))


def _taken(user: User) -> UniquenessConflict:
    return UniquenessConflict(f"userName {user.username!r} is already taken")


def _refuse_batch_duplicates(steps: list[_Step]) -> None:
    """A username used by an earlier valid user of the batch is taken (user names
    ignore case), as it would be had the earlier one been created first."""
    seen: set[str] = set()
    for index, step in enumerate(steps):
        if isinstance(step, BatchUser):
            key = step.user.username.lower()
            if key in seen:
                steps[index] = _taken(step.user)
            seen.add(key)


def _cut(steps: list[_Step], max_failures: int | None) -> list[_Step]:
    """Steps after the max_failures-th failure become None (not attempted)."""
    if max_failures is None:
        return steps
    failures = 0
    for index, step in enumerate(steps):
        if failures >= max_failures:
            return steps[:index] + [None] * (len(steps) - index)
        failures += isinstance(step, ApplicationError)
    return steps


def _taken_refused(steps: list[_Step], inserted: set[uuid.UUID]) -> list[_Step]:
    """The users a concurrent writer's username beat become 409s."""
    return [
        _taken(s.user) if isinstance(s, BatchUser) and s.user.pk not in inserted else s
        for s in steps
    ]


def _write(
    *, actor: Actor, source: Source | str, steps: list[_Step], max_failures: int | None
) -> list[_Step]:
    """Insert and announce the valid users. A username a concurrent writer took first
    turns that user into a 409, which changes what the others see (a manager who is
    not created after all, failures that reach max_failures sooner): the attempt is
    rolled back and the batch decided again without it. Each retry refuses at least
    one more user, and it happens only in a race."""
    for _ in range(len(steps)):
        with transaction.atomic():
            batch = [s for s in steps if isinstance(s, BatchUser)]
            links = managers_plan(batch)
            inserted = _insert_skipping_taken([b.user for b in batch])
            if len(inserted) == len(batch):
                reports_link(links)
                _announce(actor=actor, source=source, created=batch)
                return steps
            transaction.set_rollback(True)
        steps = _cut(_taken_refused(steps, inserted), max_failures)
        if not any(isinstance(s, BatchUser) for s in steps):
            return steps
    raise AssertionError("unreachable: every retry refuses at least one user")


def _insert_skipping_taken(users: list[User]) -> set[uuid.UUID]:
    """INSERT the users, skipping any whose username the unique index refuses; the ids
    of those inserted. Rows go in username order, so two batches that share usernames
    wait for each other in the same order and never deadlock.

    The ORM's bulk_create(ignore_conflicts=True) and one SELECT of the new ids (it does
    not say which rows it skipped). The hand-written INSERT ... RETURNING this replaced
    saved that SELECT but no time: bench/rawsql_gains.py, 1,000 users (100 taken), four
    runs on the loaded shared machine: ORM 464-709 ms, hand-written 580-1,000 ms. Statement count:
    tests/scim/test_bulk_creates.py (the same for 10 and 200 users).
    """
    ordered = sorted(users, key=lambda u: u.username.lower())
    User.objects.bulk_create(ordered, ignore_conflicts=True, batch_size=_ROWS_PER_INSERT)
    # Ids are made here (uuid4), so those found are exactly the rows this call wrote.
    return set(User.objects.filter(pk__in=[u.pk for u in ordered]).values_list("pk", flat=True))


def _created_detail(b: BatchUser, source: Source | str) -> dict[str, Any]:
    """user_create's audit detail, with the manager as it was at the user's creation."""
    return {
        "source": str(source),
        "attributes": {k: _json_value(v) for k, v in b.values.items()},
        "custom": b.user.custom,
        "manager": b.created_manager,
        "pending_manager_ref": b.created_pending,
        "is_active": b.user.is_active,
        "connection": b.user.connection_id,
        **({"ignored": sorted(set(b.ignored))} if b.ignored else {}),
    }


def _audit_entries(
    created: list[BatchUser], source: Source | str
) -> Iterator[tuple[str, User, dict[str, Any]]]:
    for b in created:
        yield ("user.created", b.user, _created_detail(b, source))
        if b.reports:
            yield ("user.manager_linked", b.user, {"reports": [str(pk) for pk in b.reports]})


def _announce(*, actor: Actor, source: Source | str, created: list[BatchUser]) -> None:
    """The audit records and events of the created users, as user_create writes them."""
    audit_record_many(actor=actor, entries=_audit_entries(created, source))
    events.publish_on_commit(
        events.UsersCreated(user_ids=frozenset(b.user.pk for b in created), actor_kind=actor.kind)
    )
    for b in created:
        if b.reports:
            events.publish_on_commit(
                events.ManagerChanged(
                    user_ids=frozenset(b.reports), manager_id=b.user.pk, actor_kind=actor.kind
                )
            )
        if b.user.photo_url:
            events.publish_on_commit(
                events.PhotoUrlSet(user_id=b.user.pk, url=b.user.photo_url, origin=str(actor.kind))
            )
