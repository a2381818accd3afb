"""Bearer-token authentication for SCIM and the user image API."""

from __future__ import annotations

import hmac

from django.utils import timezone

from scim.models import ScimToken
from scim.tokens import LAST_USED_GRANULARITY, token_hash


def token_authenticate(header: str | None) -> ScimToken | None:
    """The live token an `Authorization: Bearer ...` header carries, or None."""
    if not header:
        return None
    scheme, _, raw = header.strip().partition(" ")
    raw = raw.strip()
    # Issued tokens are ASCII; anything else (a lone surrogate cannot even be hashed)
    # is simply not one of ours.
    if scheme.lower() != "bearer" or not raw or len(raw) > 200 or not raw.isascii():
        return None
    digest = token_hash(raw)
    # Unordered and sliced: one index probe, no sort.
    token = next(iter(ScimToken.objects.filter(token_hash=digest).order_by()[:1]), None)
    # The index lookup already matched; the constant-time compare keeps the final
    # decision free of early-exit timing whatever the database does.
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    if token.revoked_at is not None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_GRANULARITY:
        ScimToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
