"""Issuing, verifying and revoking events tokens (they read the events feed only).

Hashed and compared like SCIM tokens (scim.tokens, scim.auth): only a SHA-256 of the
raw value is stored, looked up by index and compared in constant time.
"""

from __future__ import annotations

from typing import Final

from django.db import transaction
from django.utils import timezone

from axero_idp.bearer_tokens import token_authenticate_header, token_issue
from axero_idp.errors import NotFound
from events.models import EventsToken
from users.services import Actor, audit_record

TOKEN_PREFIX: Final = "axevt_"  # noqa: S105 - a public marker, not a secret


@transaction.atomic
def events_token_create(*, name: str, actor: Actor) -> tuple[EventsToken, str]:
    """Create a token; returns it and its raw value, which is never stored."""
    token, raw = token_issue(EventsToken, name=name, marker=TOKEN_PREFIX)
    audit_record(
        actor=actor, action="events_token.created", target=token, detail={"name": token.name}
    )
    return token, raw


@transaction.atomic
def events_token_revoke(*, name: str, actor: Actor) -> EventsToken:
    """Revoke a token at once; revoking twice is a no-op."""
    token = EventsToken.objects.select_for_update().filter(name=name).first()
    if token is None:
        raise NotFound(f"no token named {name!r}")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor, action="events_token.revoked", target=token, detail={"name": name}
        )
    return token


def events_token_authenticate(header: str | None) -> EventsToken | None:
    """The live events token an `Authorization: Bearer ...` header carries, or None."""
    return token_authenticate_header(EventsToken, header)
