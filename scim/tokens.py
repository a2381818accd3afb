"""Issuing, verifying and revoking provisioning tokens.

These write scim's own table (not the directory), so they live here rather than in
users.services; each records an audit event like every other write.
"""

from __future__ import annotations

from typing import Final

from django.db import transaction

from axero_idp.bearer_tokens import token_issue, token_revoke
from axero_idp.errors import ValidationFailed
from scim.models import ScimToken
from users.selectors import connection_get
from users.services import Actor, audit_record

TOKEN_PREFIX: Final = "axscim_"  # noqa: S105 - a public marker, not a secret


@transaction.atomic
def scim_token_create(
    *, name: str, actor: Actor, connection_slug: str | None = None
) -> tuple[ScimToken, str]:
    """Create a token (bound to the connection of identity provider connection_slug,
    when given); returns it and its raw value, which is never stored."""
    connection = None
    if connection_slug is not None:
        connection = connection_get(connection_slug)
        if connection is None:
            raise ValidationFailed(f"idp: no identity provider {connection_slug!r}")
    token, raw = token_issue(ScimToken, name=name, marker=TOKEN_PREFIX, connection=connection)
    audit_record(
        actor=actor,
        action="scim_token.created",
        target=token,
        detail={"name": token.name, "connection": connection.slug if connection else None},
    )
    return token, raw


@transaction.atomic
def scim_token_revoke(*, name: str, actor: Actor) -> ScimToken:
    """Revoke a token at once; revoking twice is a no-op."""
    token, revoked = token_revoke(ScimToken, name=name)
    if revoked:
        audit_record(actor=actor, action="scim_token.revoked", target=token, detail={"name": name})
    return token
