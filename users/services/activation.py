"""Who may log in: deactivate, reactivate (an admin's deactivation holds against the
identity provider), and a new password for a locked-out local admin.

Every function owns its transaction and writes its audit event inside it.
"""

from __future__ import annotations

import logging
from typing import Final

from django.db import transaction
from django.utils import timezone

from users import events
from users.models import ActorKind, User
from users.services.actors import Actor
from users.services.audit import audit_record
from users.services.users import _bump, _locked, session_end_all

logger = logging.getLogger(__name__)

_ACTIVE_FIELDS: Final = ["is_active", "deactivated_at", "deactivated_by", "idp_may_reactivate"]


def _announce(user: User, actor: Actor, event: events.Event) -> None:
    # UserChanged for the listeners that only care that `is_active` changed (personas).
    events.publish_on_commit(
        events.UserChanged(user_id=user.pk, fields=frozenset({"is_active"}), actor_kind=actor.kind)
    )
    events.publish_on_commit(event)


@transaction.atomic
def user_deactivate(*, user: User, actor: Actor, reason: str = "") -> User:
    """Deactivate a user, end their sessions, and record who did it."""
    user = _locked(user)
    if not user.is_active:
        return user  # idempotent: IdPs replay deprovisioning
    user.is_active = False
    user.deactivated_at = timezone.now()
    user.deactivated_by, user.idp_may_reactivate = actor.kind, False
    _bump(user, _ACTIVE_FIELDS)
    session_end_all(user=user)
    audit_record(actor=actor, action="user.deactivated", target=user, detail={"reason": reason})
    _announce(user, actor, events.UserDeactivated(user_id=user.pk, actor_kind=actor.kind))
    return user


def reactivation_held(user: User, actor: Actor) -> bool:
    """Whether an admin's deactivation keeps actor from reactivating user."""
    return (
        user.deactivated_by == ActorKind.ADMIN
        and not user.idp_may_reactivate
        # Admins and operators at the shell (ensure_admin --reset) may; IdPs may not.
        and actor.is_identity_provider
    )


@transaction.atomic
def user_reactivate(*, user: User, actor: Actor, reason: str = "") -> User:
    """Let a deactivated user log in again, unless an admin deactivated them and the
    identity provider asks: then nothing changes and the refusal is recorded (the
    IdP's request itself succeeds: README, "The directory's rules")."""
    user = _locked(user)
    if user.is_active:
        return user
    if reactivation_held(user, actor):
        audit_record(
            actor=actor,
            action="user.reactivation_refused",
            target=user,
            detail={"reason": reason, "held_by": "admin deactivation"},
        )
        logger.warning(
            "reactivation refused: an admin deactivated the user",
            extra={"user_id": str(user.pk), "actor_kind": actor.kind},
        )
        return user
    user.is_active = True
    user.deactivated_at = None
    user.deactivated_by, user.idp_may_reactivate = "", False
    _bump(user, _ACTIVE_FIELDS)
    audit_record(actor=actor, action="user.reactivated", target=user, detail={"reason": reason})
    _announce(user, actor, events.UserReactivated(user_id=user.pk, actor_kind=actor.kind))
    return user


@transaction.atomic
def user_idp_reactivation_allow(*, user: User, actor: Actor, allowed: bool) -> User:
    """Let (or stop letting) the identity provider undo an admin's deactivation."""
    user = _locked(user)
    if user.idp_may_reactivate == allowed:
        return user
    user.idp_may_reactivate = allowed
    _bump(user, ["idp_may_reactivate"])
    audit_record(
        actor=actor,
        action="user.idp_reactivation_allowed",
        target=user,
        detail={"changes": {"idp_may_reactivate": [not allowed, allowed]}},
    )
    return user


@transaction.atomic
def user_password_reset(*, user: User, actor: Actor, password: str) -> User:
    """Give a (local) account a new password; its sessions end with the old one."""
    user = _locked(user)
    user.set_password(password)
    _bump(user, ["password"])
    session_end_all(user=user)
    audit_record(actor=actor, action="user.password_changed", target=user, detail={"usable": True})
    return user
