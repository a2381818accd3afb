"""The JSON API of the directory for the logged-in user: GET /api/v1/me/."""

from __future__ import annotations

from typing import Any

from rest_framework.decorators import api_view, permission_classes
from rest_framework.request import Request
from rest_framework.response import Response

from axero_idp.errors import NotFound
from axero_idp.principals import IsPerson
from users.models import User
from users.selectors import user_image_url, user_profile


def _manager(user: User) -> dict[str, Any] | None:
    manager = user.manager
    if manager is None:
        return None
    return {
        "id": str(manager.pk),
        "userName": manager.username,
        "displayName": manager.get_full_name(),
    }


def me_representation(user: User, roles: list[str]) -> dict[str, Any]:
    return {
        "id": str(user.pk),
        "userName": user.username,
        "email": user.email,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "displayName": user.get_full_name(),
        "title": user.title,
        "department": user.department,
        "manager": _manager(user),
        "hireDate": user.hire_date.isoformat() if user.hire_date else None,
        "custom": user.custom,
        "roles": roles,
        "imageUrl": user_image_url(user.pk, user.image_version),
    }


@api_view(["GET"])
@permission_classes([IsPerson])
def me(request: Request) -> Response:
    """The logged-in user's profile (session authentication; 403 JSON when anonymous)."""
    found = user_profile(request.user.pk) if request.user.pk else None
    if found is None:
        raise NotFound("the logged-in user no longer exists")
    user, roles = found
    return Response(me_representation(user, roles))
