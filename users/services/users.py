"""Writes to users: create, update, manager, deactivate, reactivate, delete.

Every function owns its transaction and writes its audit event inside it; each is
idempotent where an identity provider may repeat the call (a no-op writes nothing).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from axero_idp.errors import UniquenessConflict, ValidationFailed, raise_for_constraint
from users import events
from users.models import USERNAME_UNIQUE, Source, User
from users.selectors import user_by_email, users_provisioned
from users.services.actors import Actor
from users.services.audit import audit_record
from users.services.reports import reports_link, reports_waiting, user_insert_finding_reports
from users.services.values import (
    clean_attributes,
    clean_custom_values,
    custom_values_merged,
    stored_columns,
)

# How a manager reference is resolved, in order (SCIM_DIALECTS.md: id, externalId,
# userName). SAML passes its own order (email first).
MANAGER_BY_SCIM: Final = ("id", "external_id", "username")
MANAGER_BY_SAML: Final = ("email", "username", "external_id")

_UNSET: Final = object()


def _json_value(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _username_taken(username: str, *, exclude: uuid.UUID | None = None) -> bool:
    query = User.objects.filter(username__ci=username)
    if exclude is not None:
        query = query.exclude(pk=exclude)
    return query.exists()


def _save_unique(user: User, *, update_fields: list[str] | None = None) -> None:
    """Save, turning a lost race on the case-insensitive username into a 409."""
    try:
        with transaction.atomic():
            user.save(update_fields=update_fields)
    except IntegrityError as exc:
        raise_for_constraint(exc, {USERNAME_UNIQUE: f"userName {user.username!r} is already taken"})


def manager_resolve(
    ref: str, *, order: Sequence[str] = MANAGER_BY_SCIM, among: QuerySet[User] | None = None
) -> User | None:
    """The user a manager reference names, trying each kind of key in order, among the
    given accounts (all of them by default)."""
    ref = ref.strip()
    users = User.objects.all() if among is None else among
    for kind in order:
        if kind == "id":
            try:
                key = uuid.UUID(ref)
            except ValueError:
                continue
            found = users.filter(pk=key).first()
        elif kind == "external_id":
            found = users.filter(external_id=ref).order_by("created_at").first()
        elif kind == "username":
            found = users.filter(username__ci=ref).first()
        elif kind == "email":
            found = user_by_email(ref, among=users) if "@" in ref else None
        else:
            raise ValueError(f"unknown manager key kind {kind!r}")
        if found is not None:
            return found
    return None


def _managers_for(actor: Actor) -> QuerySet[User] | None:
    # An identity provider's reference names only accounts it manages: a local account
    # is no user to it (issue 8, finding 4), so the reference stays pending instead.
    return users_provisioned() if actor.is_identity_provider else None


@dataclass(frozen=True)
class ManagerKeys:
    """The current manager's keys, as a caller read them with the user."""

    id: uuid.UUID | None
    email: str = ""
    username: str = ""
    external_id: str = ""

    @classmethod
    def of(cls, manager: User | None) -> ManagerKeys:
        """The keys of a manager read with the user (None: no manager)."""
        if manager is None:
            return cls(id=None)
        return cls(
            id=manager.pk,
            email=manager.email,
            username=manager.username,
            external_id=manager.external_id or "",
        )


def _ref_names_manager(kind: str, ref: str, manager: ManagerKeys) -> bool | None:
    """Whether ref, read as a key of this kind, is manager's; None when ref cannot be a
    key of this kind (manager_resolve would try the next kind)."""
    if kind == "id":
        try:
            return uuid.UUID(ref) == manager.id
        except ValueError:
            return None
    if kind == "email" and "@" not in ref:
        return None
    current = {"email": manager.email, "username": manager.username}.get(kind, manager.external_id)
    return bool(current) and (
        ref == current if kind == "external_id" else ref.lower() == current.lower()
    )


def manager_ref_is_current(
    *, user: User, ref: str | None, manager: ManagerKeys, order: Sequence[str]
) -> bool:
    """Whether resolving ref again would certainly give the user's current manager (or
    keep the same pending reference), decided without a query: ref must equal the
    manager's key of the first kind manager_resolve would try on it. Anything less
    certain is left to user_update, which resolves it again under the row lock."""
    ref = (ref or "").strip()
    if manager.id is None:
        return ref.lower() == user.pending_manager_ref.lower()
    if not ref:
        return False
    for kind in order:
        decided = _ref_names_manager(kind, ref, manager)
        if decided is not None:
            return decided
    return False


def _manager_apply(
    user: User, ref: str | None, order: Sequence[str], among: QuerySet[User] | None
) -> dict[str, Any]:
    """Point user at the manager ref names (or remember ref until they arrive).
    Returns the changed fields as {name: [before, after]}."""
    before_manager, before_pending = user.manager_id, user.pending_manager_ref
    ref = (ref or "").strip()
    if not ref:
        user.manager, user.pending_manager_ref = None, ""
    else:
        manager = manager_resolve(ref, order=order, among=among)
        if manager is not None and manager.pk == user.pk:
            raise ValidationFailed("manager: a user cannot be their own manager")
        user.manager = manager
        user.pending_manager_ref = "" if manager else ref[:320]
    changes: dict[str, Any] = {}
    if user.manager_id != before_manager:
        changes["manager"] = [
            str(before_manager) if before_manager else None,
            str(user.manager_id) if user.manager_id else None,
        ]
    if user.pending_manager_ref != before_pending:
        changes["pending_manager_ref"] = [before_pending, user.pending_manager_ref]
    return changes


def _pending_reports_link(*, manager: User, actor: Actor) -> list[str]:
    """Link every report that was waiting for this manager (the deferred link)."""
    return reports_link(manager=manager, report_ids=reports_waiting(manager), actor=actor)


def user_create(
    *,
    actor: Actor,
    source: Source | str,
    username: str,
    attributes: Mapping[str, Any] | None = None,
    custom: Mapping[str, Any] | None = None,
    manager_ref: str | None = None,
    manager_order: Sequence[str] = MANAGER_BY_SCIM,
    is_active: bool = True,
    password: str | None = None,
    is_staff: bool = False,
    ignored: Sequence[str] = (),
) -> User:
    """Create a user; link a manager (now or later) and any reports waiting for them.
    `ignored`: what the request carried that maps to no field (kept in the audit).

    The case-insensitive unique index decides a username clash (no look-up first, and
    no race between one); the clash becomes a 409 once the transaction has rolled back.
    """
    values = clean_attributes({**(attributes or {}), "username": username})
    try:
        return _user_create_atomic(
            actor=actor,
            source=source,
            values=values,
            custom=custom,
            manager_ref=manager_ref,
            manager_order=manager_order,
            is_active=is_active,
            password=password,
            is_staff=is_staff,
            ignored=ignored,
        )
    except IntegrityError as exc:
        taken = f"userName {values['username']!r} is already taken"
        raise_for_constraint(exc, {USERNAME_UNIQUE: taken})


def _created_detail(
    user: User, source: Source | str, values: dict[str, Any], actor: Actor, ignored: Sequence[str]
) -> dict[str, Any]:
    return {
        "source": str(source),
        "attributes": {k: _json_value(v) for k, v in values.items()},
        "custom": user.custom,
        "manager": str(user.manager_id) if user.manager_id else None,
        "pending_manager_ref": user.pending_manager_ref or None,
        "is_active": user.is_active,
        "connection": actor.connection_id,
        **({"ignored": sorted(set(ignored))} if ignored else {}),
    }


@transaction.atomic
def _user_create_atomic(
    *,
    actor: Actor,
    source: Source | str,
    values: dict[str, Any],
    custom: Mapping[str, Any] | None,
    manager_ref: str | None,
    manager_order: Sequence[str],
    is_active: bool,
    password: str | None,
    is_staff: bool,
    ignored: Sequence[str],
) -> User:
    custom_values = {k: v for k, v in clean_custom_values(custom or {}).items() if v is not None}
    user = User(
        **stored_columns(values),
        custom=custom_values,
        source=source,
        is_active=is_active,
        is_staff=is_staff,
        deactivated_at=None if is_active else timezone.now(),
        connection_id=actor.connection_id,
    )
    if password:
        user.set_password(password)
    else:
        user.password = unusable_password()
    if manager_ref:
        _manager_apply(user, manager_ref, manager_order, _managers_for(actor))
    report_ids = user_insert_finding_reports(user)
    audit_record(
        actor=actor,
        action="user.created",
        target=user,
        detail=_created_detail(user, source, values, actor, ignored),
    )
    reports_link(manager=user, report_ids=report_ids, actor=actor)
    events.publish_on_commit(events.UserCreated(user_id=user.pk, actor_kind=actor.kind))
    if user.photo_url:
        events.publish_on_commit(
            events.PhotoUrlSet(user_id=user.pk, url=user.photo_url, origin=str(actor.kind))
        )
    return user


def unusable_password() -> str:
    """What set_unusable_password() stores ("!" and 40 random characters, refused by
    every hasher), from one urandom call: get_random_string's 40 secrets.choice calls
    cost 40 us of every create's CPU (60 ms of a 1,000-user batch's ~450 ms)."""
    return UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(30)


def _locked(user: User) -> User:
    """Re-read the user under a row lock so concurrent writers never lose an update."""
    return User.objects.select_for_update().get(pk=user.pk)


def _bump(user: User, fields: list[str]) -> None:
    """Save the changed fields with the next version (the caller holds the row lock)."""
    user.version += 1
    user.updated_at = timezone.now()
    update_fields = [*fields, "version", "updated_at"]
    if "username" in fields:
        _save_unique(user, update_fields=update_fields)
    else:
        user.save(update_fields=update_fields)


def _columns_apply(user: User, columns: Mapping[str, Any]) -> dict[str, Any]:
    """Set the columns that differ; {name: [before, after]} of each."""
    changes: dict[str, Any] = {}
    for name, value in columns.items():
        if getattr(user, name) != value:
            changes[name] = [_json_value(getattr(user, name)), _json_value(value)]
            setattr(user, name, value)
    if "username" in changes and _username_taken(user.username, exclude=user.pk):
        raise UniquenessConflict(f"userName {user.username!r} is already taken")
    return changes


def _custom_apply(user: User, custom: Mapping[str, Any] | None) -> dict[str, Any]:
    merged = custom_values_merged(user.custom, custom) if custom else user.custom
    if merged == user.custom:
        return {}
    change = {"custom": [user.custom, merged]}
    user.custom = merged
    return change


def _connection_apply(user: User, actor: Actor) -> dict[str, Any]:
    """A bound token that updates someone takes them into its connection."""
    if actor.connection_id is None or user.connection_id == actor.connection_id:
        return {}
    change = {"connection": [user.connection_id, actor.connection_id]}
    user.connection_id = actor.connection_id
    return change


@transaction.atomic
def user_update(
    *,
    user: User,
    actor: Actor,
    attributes: Mapping[str, Any] | None = None,
    custom: Mapping[str, Any] | None = None,
    manager_ref: Any = _UNSET,
    manager_order: Sequence[str] = MANAGER_BY_SCIM,
    ignored: Sequence[str] = (),
    locked: bool = False,
) -> User:
    """Change attributes, custom fields (None removes a key) and the manager reference.

    Only what differs is written; an identical repeat writes nothing and records nothing
    (`ignored`, what the request carried that maps to no field, goes into the audit of a
    change; the request log has it in any case). `locked`: the caller read `user` under
    its row lock in the transaction it holds (SCIM PUT and PATCH, which compare the
    version first), so the row is not read a second time (one round trip and ~0.3 ms of
    CPU of every such request).
    """
    user = user if locked else _locked(user)
    columns = stored_columns(clean_attributes(attributes or {}), user=user)
    changes = _columns_apply(user, columns)
    changes.update(_custom_apply(user, custom))
    if manager_ref is not _UNSET:
        changes.update(_manager_apply(user, manager_ref, manager_order, _managers_for(actor)))
    changes.update(_connection_apply(user, actor))
    if columns.get("photo_url"):
        _photo_url_announce(user, actor)
    if not changes:
        return user
    _bump(user, list(changes))
    detail: dict[str, Any] = {"changes": changes}
    if ignored:
        detail["ignored"] = sorted(set(ignored))
    audit_record(actor=actor, action="user.updated", target=user, detail=detail)
    if {"username", "external_id", "email"} & changes.keys():
        _pending_reports_link(manager=user, actor=actor)
    events.publish_on_commit(
        events.UserChanged(
            user_id=user.pk,
            fields=frozenset(changes) - {"pending_manager_ref"},
            actor_kind=actor.kind,
        )
    )
    return user


def _photo_url_announce(user: User, actor: Actor) -> None:
    # Changed or not: the photo behind a URL may change (IdPs serve photos at stable
    # URLs); the fetch asks conditionally, so an unchanged photo costs a 304.
    events.publish_on_commit(
        events.PhotoUrlSet(user_id=user.pk, url=user.photo_url, origin=str(actor.kind))
    )


@transaction.atomic
def user_image_recorded(*, user: User, version: str | None) -> None:
    """Record the fingerprint of the user's stored profile image (None: no image).

    Called by the image pipeline inside its own transaction, which writes the audit
    record of the image change; this is the directory's copy of one fact, so it does
    not bump the SCIM version or announce a UserChanged event.
    """
    if (version or "") == user.image_version:
        return
    User.objects.filter(pk=user.pk).update(image_version=version or "")
    user.image_version = version or ""
    events.publish_on_commit(events.UserImageChanged(user_id=user.pk, version=version))


def user_manager_set(
    *,
    user: User,
    actor: Actor,
    ref: str | None,
    order: Sequence[str] = MANAGER_BY_SCIM,
) -> User:
    """Set the manager by id, external id, username or email; linked later if absent."""
    return user_update(user=user, actor=actor, manager_ref=ref, manager_order=order)


@transaction.atomic
def user_access_set(*, user: User, actor: Actor, is_staff: bool, is_superuser: bool) -> User:
    """Grant or withdraw admin-site access; only superusers may call this from admin."""
    user = _locked(user)
    changes = {
        name: [getattr(user, name), value]
        for name, value in (("is_staff", is_staff), ("is_superuser", is_superuser))
        if getattr(user, name) != value
    }
    if not changes:
        return user
    user.is_staff, user.is_superuser = is_staff, is_superuser
    _bump(user, list(changes))
    if not is_staff:
        session_end_all(user=user)
    audit_record(
        actor=actor, action="user.access_changed", target=user, detail={"changes": changes}
    )
    return user


def session_end_all(*, user: User) -> None:
    """End every session of the user in every web process (the session hash changes)."""
    User.objects.filter(pk=user.pk).update(session_generation=F("session_generation") + 1)
    user.refresh_from_db(fields=["session_generation"])


@transaction.atomic
def user_delete(*, user: User, actor: Actor) -> None:
    """Delete a user for good; their reports keep their place, without a manager."""
    user = _locked(user)
    reports = frozenset(user.reports.values_list("pk", flat=True))
    report_ids = sorted(str(pk) for pk in reports)
    snapshot = {
        "username": user.username,
        "email": user.email,
        "external_id": user.external_id,
        "source": user.source,
        "reports_unlinked": report_ids,
    }
    if report_ids:
        User.objects.filter(manager=user).update(
            manager=None, version=F("version") + 1, updated_at=timezone.now()
        )
        events.publish_on_commit(
            events.ManagerChanged(user_ids=reports, manager_id=None, actor_kind=actor.kind)
        )
    user_id = user.pk
    audit_record(actor=actor, action="user.deleted", target=user, detail=snapshot)
    user.delete()
    events.publish_on_commit(
        events.UserDeleted(
            user_id=user_id,
            username=user.username,
            external_id=user.external_id or "",
            actor_kind=actor.kind,
        )
    )
