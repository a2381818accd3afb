"""Issuing, verifying and revoking events tokens (they read the events feed only).

Hashed and compared like SCIM tokens (scim.tokens, scim.auth): only a SHA-256 of the
raw value is stored, looked up by index and compared in constant time.
"""

from __future__ import annotations

from typing import Final

from django.db import transaction

from axero_idp.bearer_tokens import token_authenticate_header, token_issue, token_revoke
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
    token, revoked = token_revoke(EventsToken, name=name)
    if revoked:
        audit_record(
            actor=actor, action="events_token.revoked", target=token, detail={"name": name}
        )
    return token


def events_token_authenticate(header: str | None) -> EventsToken | None:
    """The live events token an `Authorization: Bearer ...` header carries, or None."""
    return token_authenticate_header(EventsToken, header)
