"""Issuing, verifying and revoking provisioning tokens.

These write scim's own table (not the directory), so they live here rather than in
users.services; each records an audit event like every other write.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Final

from django.db import IntegrityError, transaction
from django.utils import timezone

from axero_idp.errors import NotFound, UniquenessConflict, ValidationFailed
from scim.models import ScimToken
from users.selectors import connection_get
from users.services import Actor, audit_record

TOKEN_PREFIX: Final = "axscim_"  # noqa: S105 - a public marker, not a secret
# last_used_at is written at most this often per token: every request would
# otherwise be a write on one hot row.
LAST_USED_GRANULARITY: Final = dt.timedelta(minutes=1)


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@transaction.atomic
def scim_token_create(
    *, name: str, actor: Actor, connection_slug: str | None = None
) -> tuple[ScimToken, str]:
    """Create a token (bound to the connection of identity provider connection_slug,
    when given); returns it and its raw value, which is never stored."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed("name: required, at most 100 characters")
    connection = None
    if connection_slug is not None:
        connection = connection_get(connection_slug)
        if connection is None:
            raise ValidationFailed(f"idp: no identity provider {connection_slug!r}")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ScimToken(name=name, token_hash=token_hash(raw), prefix=raw[:12], connection=connection)
    try:
        with transaction.atomic():
            token.save()
    except IntegrityError as exc:
        raise UniquenessConflict(f"a token named {name!r} already exists") from exc
    audit_record(
        actor=actor,
        action="scim_token.created",
        target=token,
        detail={"name": name, "connection": connection.slug if connection else None},
    )
    return token, raw


@transaction.atomic
def scim_token_revoke(*, name: str, actor: Actor) -> ScimToken:
    """Revoke a token at once; revoking twice is a no-op."""
    token = ScimToken.objects.select_for_update().filter(name=name).first()
    if token is None:
        raise NotFound(f"no token named {name!r}")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(actor=actor, action="scim_token.revoked", target=token, detail={"name": name})
    return token
