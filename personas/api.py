"""GET /api/v1/spaces/{slug}/members/: who is in a space, and why."""

from __future__ import annotations

import re
import uuid
from typing import Any

from rest_framework.decorators import api_view, permission_classes
from rest_framework.request import Request
from rest_framework.response import Response

from axero_idp.errors import NotFound, ValidationFailed
from axero_idp.principals import token_or_permission
from personas.selectors import SpaceMember, space_get, space_member_count, space_members_page

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
LIMIT = re.compile(r"[0-9]{1,4}")


def _page_args(request: Request) -> tuple[uuid.UUID | None, int]:
    after_text = request.query_params.get("after")
    limit_text = request.query_params.get("limit", str(DEFAULT_LIMIT))
    try:
        after = uuid.UUID(after_text) if after_text else None
    except ValueError:
        raise ValidationFailed("after: expected a user id (UUID)") from None
    # ASCII digits only, and few: str.isdigit() accepts "²", which int() refuses.
    if not LIMIT.fullmatch(limit_text) or not 1 <= int(limit_text) <= MAX_LIMIT:
        raise ValidationFailed(f"limit: expected a whole number from 1 to {MAX_LIMIT}")
    return after, int(limit_text)


def _member(member: SpaceMember) -> dict[str, Any]:
    user = member.user
    return {
        "id": str(user.pk),
        "userName": user.username,
        "displayName": user.get_full_name(),
        "email": user.email,
        "active": user.is_active,
        "role": member.role,
        "reasons": member.reasons,
    }


@api_view(["GET"])
# Members with their emails: what admin shows only to those who may view memberships.
@permission_classes(
    [token_or_permission("personas.view_spacemembership", "personas.change_spacemembership")]
)
def space_members(request: Request, slug: str) -> Response:
    """A page of the space's members in user-id order; `next` carries the cursor."""
    after, limit = _page_args(request)
    space = space_get(slug)
    if space is None:
        raise NotFound(f"no space {slug!r}")
    members, cursor = space_members_page(space, after=after, limit=limit)
    next_url = None
    if cursor is not None:
        next_url = request.build_absolute_uri(f"{request.path}?after={cursor}&limit={limit}")
    return Response(
        {
            "space": {"slug": space.slug, "name": space.name},
            "totalResults": space_member_count(space),
            "members": [_member(m) for m in members],
            "next": next_url,
        }
    )
