"""Setup links: a connection's set-up handed to the customer's IT admin, who has no
account here. Time-limited, revocable, one connection, one person (the first browser
that opens it); every action taken through one is audited with the link as actor."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Final

from django.db import transaction
from django.utils import timezone

from axero_idp.errors import Forbidden, NotFound, ValidationFailed
from users.models import Connection, SetupLink
from users.services.actors import Actor
from users.services.audit import audit_record

LINK_PREFIX: Final = "axsetup_"
DEFAULT_LIFETIME: Final = dt.timedelta(days=7)
MAX_LIFETIME: Final = dt.timedelta(days=30)


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def setup_link_actor(link: SetupLink) -> Actor:
    """The audit trail's name for what the link's holder does."""
    return Actor.setup_link(f"{link.prefix} ({link.connection.slug})")


@transaction.atomic
def setup_link_create(
    *, connection: Connection, actor: Actor, lifetime: dt.timedelta = DEFAULT_LIFETIME
) -> tuple[SetupLink, str]:
    """A new link for connection; returns it and its raw value (shown once, never stored)."""
    if not dt.timedelta(hours=1) <= lifetime <= MAX_LIFETIME:
        raise ValidationFailed("lifetime: between one hour and 30 days")
    raw = LINK_PREFIX + secrets.token_urlsafe(32)
    link = SetupLink.objects.create(
        connection=connection,
        token_hash=_digest(raw),
        prefix=raw[: len(LINK_PREFIX) + 6],
        created_by=actor.name,
        expires_at=timezone.now() + lifetime,
    )
    audit_record(
        actor=actor,
        action="setup_link.created",
        target=link,
        detail={"connection": connection.slug, "expires_at": link.expires_at.isoformat()},
    )
    return link, raw


@transaction.atomic
def setup_link_revoke(*, link: SetupLink, actor: Actor) -> SetupLink:
    """Stop a link at once; revoking twice is a no-op."""
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            action="setup_link.revoked",
            target=link,
            detail={"connection": link.connection.slug},
        )
    return link


def _usable(link: SetupLink | None) -> SetupLink:
    if link is None:
        raise NotFound("this setup link does not exist")
    if link.revoked_at is not None:
        raise Forbidden("this setup link was revoked: ask for a new one")
    if link.expires_at <= timezone.now():
        raise Forbidden("this setup link has expired: ask for a new one")
    return link


@transaction.atomic
def setup_link_claim(*, raw: str, claim_secret: str | None) -> tuple[SetupLink, str]:
    """Open a link in a browser: the first browser claims it (returns the secret its
    session keeps); any other browser is refused. Returns (link, claim secret)."""
    link = _usable(
        SetupLink.objects.select_for_update()
        .select_related("connection")
        .filter(token_hash=_digest(raw or ""))
        .first()
    )
    if link.claim_hash:
        if not claim_secret or not secrets.compare_digest(link.claim_hash, _digest(claim_secret)):
            raise Forbidden("this setup link is already in use in another browser")
        return link, claim_secret
    secret = secrets.token_urlsafe(32)
    link.claim_hash, link.claimed_at = _digest(secret), timezone.now()
    link.save(update_fields=["claim_hash", "claimed_at"])
    audit_record(
        actor=setup_link_actor(link),
        action="setup_link.opened",
        target=link,
        detail={"connection": link.connection.slug},
    )
    return link, secret


def setup_link_for_session(*, link_id: int | None, claim_secret: str | None) -> SetupLink:
    """The link a browser claimed (its session keeps the id and the secret), if it is
    still usable."""
    link = _usable(SetupLink.objects.select_related("connection").filter(pk=link_id or 0).first())
    if not claim_secret or not secrets.compare_digest(link.claim_hash, _digest(claim_secret)):
        raise Forbidden("this browser has not opened this setup link")
    return link
