"""Reads of spaces and their members. Query cost is decided here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, QuerySet

from personas.models import SPACE_ROLE_RANK, Persona, Space, SpaceMembership
from users.models import User


def space_get(slug: str) -> Space | None:
    return Space.objects.filter(slug=slug).first()


def spaces_with_member_count() -> QuerySet[Space]:
    return Space.objects.annotate(member_count=Count("memberships__user", distinct=True))


def personas_with_match_count() -> QuerySet[Persona]:
    """Personas with how many users each currently puts in at least one space."""
    return Persona.objects.annotate(match_count=Count("memberships__user", distinct=True))


@dataclass
class SpaceMember:
    user: User
    role: str = ""
    reasons: list[dict[str, Any]] = field(default_factory=list)


def space_members_page(
    space: Space, *, after: uuid.UUID | None, limit: int
) -> tuple[list[SpaceMember], uuid.UUID | None]:
    """One page of a space's members in user-id order (keyset: stable while rows come
    and go, and each page is an index range scan), with every reason; three queries.
    Returns (members, the cursor of the next page or None). The cursor is the last id
    the page scanned, not the last member shown: a member who left between the reads
    neither shifts the next page nor empties this one's cursor."""
    ids_query = SpaceMembership.objects.filter(space=space)
    if after is not None:
        ids_query = ids_query.filter(user_id__gt=after)
    ids = list(
        ids_query.order_by("user_id").values_list("user_id", flat=True).distinct()[: limit + 1]
    )
    more, ids = len(ids) > limit, ids[:limit]
    cursor = ids[-1] if more else None
    users = {u.pk: u for u in User.objects.filter(pk__in=ids).order_by()}
    members = {pk: SpaceMember(user=users[pk]) for pk in ids if pk in users}
    rows = (
        SpaceMembership.objects.filter(space=space, user_id__in=ids)
        .select_related("persona")
        .order_by("user_id", "source", "persona__slug")
    )
    for row in rows:
        member = members.get(row.user_id)
        if member is None:
            continue
        reason: dict[str, Any] = {"source": row.source, "role": row.role}
        if row.persona is not None:
            reason["persona"] = row.persona.slug
        member.reasons.append(reason)
        if SPACE_ROLE_RANK[row.role] > SPACE_ROLE_RANK.get(member.role, -1):
            member.role = row.role
    return list(members.values()), cursor


def space_member_count(space: Space) -> int:
    return SpaceMembership.objects.filter(space=space).values("user").distinct().count()


@dataclass
class UserSpace:
    """A space a user is in, with their strongest role there and every reason."""

    space: Space
    role: str = ""
    reasons: list[dict[str, Any]] = field(default_factory=list)


def spaces_of_user(user_id: uuid.UUID) -> list[UserSpace]:
    """The spaces a user is in, by name, with the role and why: one query (the user's
    memberships by their index, with space and persona joined)."""
    rows = (
        SpaceMembership.objects.filter(user_id=user_id)
        .select_related("space", "persona")
        .order_by("space__name", "space_id", "source", "persona__slug")
    )
    spaces: dict[int, UserSpace] = {}
    for row in rows:
        entry = spaces.setdefault(row.space_id, UserSpace(space=row.space))
        reason: dict[str, Any] = {"source": row.source, "role": row.role}
        if row.persona is not None:
            reason["persona"] = row.persona.slug
        entry.reasons.append(reason)
        if SPACE_ROLE_RANK[row.role] > SPACE_ROLE_RANK.get(entry.role, -1):
            entry.role = row.role
    return list(spaces.values())


def spaces_page(*, offset: int, limit: int) -> tuple[list[Space], bool]:
    """One page of all spaces by slug (their unique index), and whether more follow."""
    rows = list(Space.objects.order_by("slug")[offset : offset + limit + 1])
    return rows[:limit], len(rows) > limit


def space_is_member(space: Space, user_id: uuid.UUID) -> bool:
    return SpaceMembership.objects.filter(space=space, user_id=user_id).exists()
