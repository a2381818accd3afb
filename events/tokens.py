"""Issuing, verifying and revoking events tokens (they read the events feed only).

Hashed and compared like SCIM tokens (scim.tokens, scim.auth): only a SHA-256 of the
raw value is stored, looked up by index and compared in constant time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Final

from django.db import IntegrityError, transaction
from django.utils import timezone

from axero_idp.errors import NotFound, UniquenessConflict, ValidationFailed
from events.models import EventsToken
from users.services import Actor, audit_record

TOKEN_PREFIX: Final = "axevt_"  # noqa: S105 - a public marker, not a secret
LAST_USED_GRANULARITY: Final = dt.timedelta(minutes=1)


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@transaction.atomic
def events_token_create(*, name: str, actor: Actor) -> tuple[EventsToken, str]:
    """Create a token; returns it and its raw value, which is never stored."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed("name: required, at most 100 characters")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = EventsToken(name=name, token_hash=token_hash(raw), prefix=raw[:12])
    try:
        with transaction.atomic():
            token.save()
    except IntegrityError as exc:
        raise UniquenessConflict(f"a token named {name!r} already exists") from exc
    audit_record(actor=actor, action="events_token.created", target=token, detail={"name": name})
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
    scheme, _, raw = (header or "").strip().partition(" ")
    raw = raw.strip()
    if scheme.lower() != "bearer" or not raw or len(raw) > 200 or not raw.isascii():
        return None
    digest = token_hash(raw)
    token = next(iter(EventsToken.objects.filter(token_hash=digest).order_by()[:1]), None)
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    if token.revoked_at is not None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_GRANULARITY:
        EventsToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
