"""Bearer-token authentication for SCIM and the user image API."""

from __future__ import annotations

from axero_idp.bearer_tokens import token_authenticate_header
from scim.models import ScimToken


def token_authenticate(header: str | None) -> ScimToken | None:
    """The live SCIM token an `Authorization: Bearer ...` header carries, or None."""
    return token_authenticate_header(ScimToken, header)
