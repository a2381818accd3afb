"""Creating many users at once (an identity provider's first push: a SCIM Bulk of
thousands of creates), set-based: each user is validated on its own exactly as
user_create validates it, then the whole batch is written with a constant number of
statements (one INSERT of the users, one of their audit records, one of the persona
outbox marks), whatever its size.

The case-insensitive unique index still decides every username clash: the INSERT skips
the rows it refuses (ON CONFLICT DO NOTHING) and those users get user_create's 409, so
two batches racing for the same username neither both create it nor fail as a whole.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from axero_idp.errors import ApplicationError, UniquenessConflict
from axero_idp.rawsql import model_columns, table
from users import events
from users.models import CustomField, Source, User
from users.services.actors import Actor
from users.services.audit import audit_record_many
from users.services.users import _json_value, _pending_reports_link
from users.services.values import clean_attributes, clean_custom_values

# What one user's creation ended in: the user, the error that refused it, or None when
# it was not attempted (max_failures was reached before it).
Outcome = User | ApplicationError | None

_COLUMNS: Final = tuple(User._meta.concrete_fields)
# PostgreSQL binds at most 65,535 parameters per statement.
_ROWS_PER_INSERT: Final = 65_535 // len(_COLUMNS)


@dataclass(frozen=True)
class NewUser:
    """One user to create: user_create's arguments, without a manager reference (a
    reference may name another user of the same batch; user_create handles those)."""

    username: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    custom: Mapping[str, Any] = field(default_factory=dict)
    is_active: bool = True


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
    batch, the same stored fields, audit records and events. With `max_failures`,
    the users after the one that brought the failures to that number are not created.
    """
    definitions = _custom_definitions(new_users)
    steps = [_prepared(item, source, definitions) for item in new_users]
    _refuse_batch_duplicates(steps)
    steps = _cut(steps, max_failures)
    if any(isinstance(s, _Valid) for s in steps):
        steps = _write(actor=actor, source=source, steps=steps, max_failures=max_failures)
    return [s.user if isinstance(s, _Valid) else s for s in steps]


@dataclass
class _Valid:
    """A user ready to insert, with the cleaned attributes its audit record shows."""

    user: User
    values: dict[str, Any]


_Step = _Valid | ApplicationError | None


def _custom_definitions(new_users: Sequence[NewUser]) -> dict[str, CustomField]:
    keys = {key for item in new_users for key in item.custom}
    if not keys:
        return {}
    return {f.key: f for f in CustomField.objects.filter(key__in=keys)}


def _prepared(item: NewUser, source: Source | str, definitions: Mapping[str, CustomField]) -> _Step:
    """The unsaved user user_create would save, or the error it would raise."""
    try:
        values = clean_attributes({**item.attributes, "username": item.username})
        custom = clean_custom_values(item.custom, definitions=definitions)
    except ApplicationError as exc:
        return exc
    user = User(
        **values,
        custom={k: v for k, v in custom.items() if v is not None},
        source=source,
        is_active=item.is_active,
        is_staff=False,
        deactivated_at=None if item.is_active else timezone.now(),
    )
    user.password = _unusable_password()
    return _Valid(user, values)


def _unusable_password() -> str:
    """What set_unusable_password() stores ("!" and 40 random characters, refused by
    every hasher), from one urandom call: get_random_string's 40 secrets.choice calls
    were 60 ms of a 1,000-user batch's ~450 ms."""
    return UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(30)


def _taken(user: User) -> UniquenessConflict:
    return UniquenessConflict(f"userName {user.username!r} is already taken")


def _refuse_batch_duplicates(steps: list[_Step]) -> None:
    """A username used by an earlier valid user of the batch is taken (user names
    ignore case), as it would be had the earlier one been created first."""
    seen: set[str] = set()
    for index, step in enumerate(steps):
        if isinstance(step, _Valid):
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


@transaction.atomic
def _write(
    *, actor: Actor, source: Source | str, steps: list[_Step], max_failures: int | None
) -> list[_Step]:
    inserted = _insert_skipping_taken([s.user for s in steps if isinstance(s, _Valid)])
    steps = [
        _taken(s.user) if isinstance(s, _Valid) and s.user.pk not in inserted else s for s in steps
    ]
    cut = _cut(steps, max_failures)
    # A concurrent batch took a username: the failures may now reach max_failures
    # earlier than validation foresaw, and the users past that point must not stay.
    _delete(
        [
            s.user.pk
            for s, kept in zip(steps, cut, strict=True)
            if kept is None and isinstance(s, _Valid)
        ]
    )
    created = [s for s in cut if isinstance(s, _Valid)]
    if created:
        _announce(actor=actor, source=source, created=created)
    return cut


def _insert_skipping_taken(users: list[User]) -> set[uuid.UUID]:
    """INSERT the users, skipping any whose username the unique index refuses; the ids
    of those inserted. Rows go in username order, so two batches that share usernames
    wait for each other in the same order and never deadlock.

    Written by hand: Django's bulk_create(ignore_conflicts=True) does not say which
    rows it skipped. Measured for 1,000 users on the 2-core benchmark machine: 90-190 ms
    for this statement, parameter binding included, where user_create spends 4-5 ms per
    user (BENCHMARKS.md, "SCIM Bulk of creates").
    """
    ordered = sorted(users, key=lambda u: u.username.lower())
    columns = model_columns(User)
    row = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
    inserted: set[uuid.UUID] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(ordered), _ROWS_PER_INSERT):
            chunk = ordered[start : start + _ROWS_PER_INSERT]
            params = [
                f.get_db_prep_save(getattr(u, f.attname), connection)
                for u in chunk
                for f in _COLUMNS
            ]
            cursor.execute(
                f"INSERT INTO {table(User)} ({columns}) "  # noqa: S608
                f"VALUES {', '.join([row] * len(chunk))} "
                f"ON CONFLICT DO NOTHING RETURNING {connection.ops.quote_name(User._meta.pk.attname)}",
                params,
            )
            inserted.update(uuid.UUID(str(pk)) for (pk,) in cursor.fetchall())
    return inserted


def _delete(user_ids: list[uuid.UUID]) -> None:
    if user_ids:
        User.objects.filter(pk__in=user_ids).delete()


def _created_detail(step: _Valid, source: Source | str) -> dict[str, Any]:
    """user_create's audit detail for a user created without a manager reference."""
    return {
        "source": str(source),
        "attributes": {k: _json_value(v) for k, v in step.values.items()},
        "custom": step.user.custom,
        "manager": None,
        "pending_manager_ref": None,
        "is_active": step.user.is_active,
    }


def _announce(*, actor: Actor, source: Source | str, created: list[_Valid]) -> None:
    """The audit records, deferred manager links and events of the created users."""
    audit_record_many(
        actor=actor,
        entries=[("user.created", s.user, _created_detail(s, source)) for s in created],
    )
    _pending_reports_link_many(managers=[s.user for s in created], actor=actor)
    events.publish_on_commit(events.UsersCreated(user_ids=frozenset(s.user.pk for s in created)))
    for user in (s.user for s in created):
        if user.photo_url:
            events.publish_on_commit(
                events.PhotoUrlSet(user_id=user.pk, url=user.photo_url, origin=str(actor.kind))
            )


def _manager_keys(user: User) -> list[str]:
    keys = [str(user.pk), user.username.lower()]
    keys += [k.lower() for k in (user.external_id, user.email) if k]
    return keys


def _pending_reports_link_many(*, managers: list[User], actor: Actor) -> None:
    """Link the reports that were waiting for any of these users: one query when none
    is waiting (the usual case); user_create's own link for each manager awaited."""
    keys = {key for user in managers for key in _manager_keys(user)}
    waiting = set(
        User.objects.exclude(pending_manager_ref="")
        .annotate(ref=Lower("pending_manager_ref"))
        .filter(~Q(pk__in=[u.pk for u in managers]), ref__in=keys)
        .values_list("ref", flat=True)
    )
    for user in managers:
        # In batch order: the first user a reference names takes its reports.
        if waiting & set(_manager_keys(user)):
            _pending_reports_link(manager=user, actor=actor)
            waiting -= set(_manager_keys(user))
