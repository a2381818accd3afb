"""Connections: one identity provider's SAML side and SCIM tokens, as one thing."""

from __future__ import annotations

from django.db import transaction

from users.models import Connection
from users.services.actors import Actor
from users.services.audit import audit_record


@transaction.atomic
def connection_ensure(*, slug: str, actor: Actor) -> Connection:
    """The connection named slug, created (and audited) the first time it is needed."""
    connection, created = Connection.objects.get_or_create(slug=slug)
    if created:
        audit_record(actor=actor, action="connection.created", target=connection)
    return connection
