"""Connections: one identity provider's SAML side and SCIM tokens, as one thing."""

from __future__ import annotations

import re
from typing import Final

from django.db import IntegrityError, transaction

from axero_idp.errors import ValidationFailed, raise_for_unique_field
from users.models import Connection, Vendor
from users.services.actors import Actor
from users.services.audit import audit_record

# The slug is part of every SAML URL and the IdP's slug (sso.models.slug_validator).
SLUG_PATTERN: Final = re.compile(r"^[a-z0-9][a-z0-9-]{0,49}$")


@transaction.atomic
def connection_ensure(*, slug: str, actor: Actor) -> Connection:
    """The connection named slug, created (and audited) the first time it is needed."""
    connection, created = Connection.objects.get_or_create(slug=slug)
    if created:
        audit_record(actor=actor, action="connection.created", target=connection)
    return connection


@transaction.atomic
def connection_create(*, slug: str, vendor: str, actor: Actor) -> Connection:
    """Create a connection before its identity provider's metadata exists (the admin's
    connections page): our SP metadata is served from now on, logins wait for the IdP."""
    if not SLUG_PATTERN.match(slug or ""):
        raise ValidationFailed("slug: lower-case letters, digits and -, at most 50")
    if vendor not in Vendor.values:
        raise ValidationFailed(f"vendor: one of {', '.join(Vendor.values)}")
    try:
        with transaction.atomic():
            connection = Connection.objects.create(slug=slug, vendor=vendor)
    except IntegrityError as exc:
        raise_for_unique_field(
            exc,
            model=Connection,
            field="slug",
            detail=f"a connection named {slug!r} exists already",
        )
    audit_record(
        actor=actor, action="connection.created", target=connection, detail={"vendor": vendor}
    )
    return connection
