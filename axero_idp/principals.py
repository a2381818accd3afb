"""Who is calling the JSON API: a person (session) or a provisioning token.

The token check lives in scim/ (it owns the tokens); domain apps only see this
principal, so they never import a protocol app. settings.REST_FRAMEWORK wires it in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

# Imported lazily: DRF loads the authentication class (which imports this module)
# while rest_framework.views is still initialising.
from rest_framework.permissions import BasePermission

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


@dataclass(frozen=True)
class ProvisioningPrincipal:
    """request.user when a valid provisioning (SCIM) bearer token authenticated the call."""

    token_id: int
    token_name: str
    pk: None = None
    is_active: bool = True
    is_staff: bool = False
    is_superuser: bool = False
    is_anonymous: bool = False

    @property
    def is_authenticated(self) -> bool:
        return True

    def __str__(self) -> str:
        return f"token:{self.token_name}"


def is_token(request: Request) -> bool:
    return isinstance(request.user, ProvisioningPrincipal)


def is_staff_person(request: Request) -> bool:
    user = request.user
    return bool(
        user is not None
        and not isinstance(user, ProvisioningPrincipal)
        and user.is_authenticated
        and user.is_active
        and user.is_staff
    )


def has_staff_permission(request: Request, *perms: str) -> bool:
    """Whether a staff person's session holds any of perms ("app.codename"), as the
    admin site decides it: is_staff lets a person into admin, and their model
    permissions (all of them for a superuser) say what they may see and change."""
    user = request.user
    return is_staff_person(request) and any(user.has_perm(perm) for perm in perms)


def token_or_permission(*perms: str) -> type[BasePermission]:
    """A DRF permission: a provisioning token, or a staff session holding any of
    perms. is_staff alone is a door to admin, not a permission."""

    class IsTokenOrPermitted(BasePermission):
        def has_permission(self, request: Request, view: APIView) -> bool:
            return is_token(request) or has_staff_permission(request, *perms)

    IsTokenOrPermitted.__name__ = f"IsTokenOr({' | '.join(perms)})"
    return IsTokenOrPermitted


class IsPerson(BasePermission):
    """A logged-in person (not a token)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(
            user is not None
            and not isinstance(user, ProvisioningPrincipal)
            and user.is_authenticated
        )
