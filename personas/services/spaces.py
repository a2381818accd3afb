"""Writes to spaces and to manual (admin-granted) space memberships."""

from __future__ import annotations

import re
from typing import Any, Final

from django.db import IntegrityError, transaction
from django.utils import timezone

from axero_idp.errors import UniquenessConflict, ValidationFailed
from personas import events as membership_events
from personas.models import MembershipSource, Space, SpaceMembership, SpaceRole
from personas.services.removals import audit_memberships_removed
from users.models import User
from users.services import Actor, audit_record

SLUG: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def clean_slug(value: object, *, path: str) -> str:
    # fullmatch: `$` would also accept a trailing newline ("eng\n").
    if not isinstance(value, str) or not SLUG.fullmatch(value):
        raise ValidationFailed(
            f"{path}: expected a slug (lower-case letters, digits, - and _; at most 64)"
        )
    return value


def clean_name(value: object, *, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(f"{path}: required")
    if len(value.strip()) > 200:
        raise ValidationFailed(f"{path}: longer than 200 characters")
    if "\x00" in value:
        raise ValidationFailed(f"{path}: contains a NUL character")
    return value.strip()


def clean_role(value: object, *, path: str) -> str:
    if value not in SpaceRole.values:
        raise ValidationFailed(f"{path}: expected one of {', '.join(SpaceRole.values)}")
    return str(value)


@transaction.atomic
def space_upsert(*, slug: str, name: str, actor: Actor) -> tuple[Space, str]:
    """Create the space or rename it; returns (space, "created" | "updated" | "unchanged")."""
    slug = clean_slug(slug, path="slug")
    name = clean_name(name, path="name")
    # NO KEY: evaluations inserting memberships into this space (their foreign-key check
    # takes KEY SHARE on it) need not wait for a rename.
    space = Space.objects.select_for_update(no_key=True).filter(slug=slug).first()
    if space is None:
        try:
            with transaction.atomic():
                space = Space.objects.create(slug=slug, name=name)
        except IntegrityError as exc:
            raise UniquenessConflict(f"space {slug!r} was created concurrently") from exc
        audit_record(actor=actor, action="space.created", target=space, detail={"name": name})
        return space, "created"
    if space.name == name:
        return space, "unchanged"
    before = space.name
    space.name, space.updated_at = name, timezone.now()
    space.save(update_fields=["name", "updated_at"])
    audit_record(actor=actor, action="space.renamed", target=space, detail={"name": [before, name]})
    return space, "updated"


@transaction.atomic
def space_delete(*, space: Space, actor: Actor) -> None:
    """Delete a space, its memberships (each audited, like a persona's) and its links."""
    # Locked first: an evaluation inserting into this space (its foreign key takes a
    # share lock on the row) finishes before, or waits and then finds the space gone.
    space = Space.objects.select_for_update().get(pk=space.pk)
    members = SpaceMembership.objects.filter(space=space).values("user").distinct().count()
    audit_memberships_removed(memberships=SpaceMembership.objects.filter(space=space), actor=actor)
    audit_record(
        actor=actor,
        action="space.deleted",
        target=space,
        detail={"slug": space.slug, "name": space.name, "members": members},
    )
    space.delete()


def _announce(kind: str, space: Space, user: User, role: str | None, actor: Actor) -> None:
    membership_events.rows_announce(
        membership_events.MembershipChange(kind, str(actor.kind), timezone.now()),
        [
            membership_events.MembershipRow(
                user.pk, space.pk, space.slug, None, role, MembershipSource.MANUAL
            )
        ],
    )


@transaction.atomic
def space_member_add(
    *, space: Space, user: User, role: str = SpaceRole.MEMBER, actor: Actor
) -> SpaceMembership:
    """Put a person in a space by hand (source "manual"), or change their manual role."""
    role = clean_role(role, path="role")
    membership, created = SpaceMembership.objects.select_for_update().get_or_create(
        space=space,
        user=user,
        persona=None,
        defaults={"source": MembershipSource.MANUAL, "role": role},
    )
    if not created and membership.role == role:
        return membership
    detail: dict[str, Any] = {"space": space.slug, "source": MembershipSource.MANUAL, "role": role}
    if not created:
        detail["role"] = [membership.role, role]
        membership.role = role
        membership.save(update_fields=["role"])
    if created:
        _announce(membership_events.ADDED, space, user, role, actor)
    audit_record(
        actor=actor,
        action="space.member_added" if created else "space.member_role_changed",
        target=user,
        target_type="user",
        detail=detail,
    )
    return membership


@transaction.atomic
def space_member_remove(*, space: Space, user: User, actor: Actor) -> bool:
    """Remove the manual membership; persona-granted memberships stay (remove the reason)."""
    deleted, _ = SpaceMembership.objects.filter(space=space, user=user, persona=None).delete()
    if deleted:
        _announce(membership_events.REMOVED, space, user, None, actor)
        audit_record(
            actor=actor,
            action="space.member_removed",
            target=user,
            target_type="user",
            detail={"space": space.slug, "source": MembershipSource.MANUAL},
        )
    return bool(deleted)
