"""DRF authentication for the JSON API (/api/v1/...): a provisioning bearer token.

Wired in settings.REST_FRAMEWORK so that media/ and personas/ accept tokens without
importing scim/. DRF imports this class while rest_framework.views is still loading,
so the token check (which pulls in models and errors) is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed

from axero_idp.principals import ProvisioningPrincipal

if TYPE_CHECKING:
    from rest_framework.request import Request


class ProvisioningTokenAuthentication(BaseAuthentication):
    """A `Bearer` token authenticates as a ProvisioningPrincipal; other headers pass."""

    def authenticate(self, request: Request) -> tuple[ProvisioningPrincipal, Any] | None:
        from scim.auth import token_authenticate

        header = request.headers.get("Authorization")
        if not header or not header.strip().lower().startswith("bearer "):
            return None
        token = token_authenticate(header)
        if token is None:
            raise AuthenticationFailed("invalid or revoked provisioning token")
        return ProvisioningPrincipal(token_id=token.pk, token_name=token.name), token

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 with WWW-Authenticate (instead of 403) to a missing token.
        return 'Bearer realm="axero-idp"'
