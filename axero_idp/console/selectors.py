"""Reads for the connection page: the checklist, the IdP and the tokens."""

from __future__ import annotations

from dataclasses import dataclass

from scim.models import ScimRequestLog, ScimToken
from sso.models import IdentityProvider, SamlIdentity
from users.models import AuditEvent, Connection


@dataclass(frozen=True)
class Checklist:
    metadata_imported: bool
    first_scim_request: bool
    first_login: bool


def connection_idp(connection: Connection) -> IdentityProvider | None:
    return IdentityProvider.objects.filter(slug=connection.slug).first()


def connection_checklist(connection: Connection) -> Checklist:
    """Ticks itself: each step is read from what actually happened."""
    tokens = ScimToken.objects.filter(connection=connection)
    scim_seen = (
        tokens.filter(last_used_at__isnull=False).exists()
        or ScimRequestLog.objects.filter(token_name__in=tokens.values("name")).exists()
    )
    logged_in = (
        SamlIdentity.objects.filter(idp__slug=connection.slug, last_login_at__isnull=False).exists()
        or AuditEvent.objects.filter(action="saml.login", actor_name=connection.slug).exists()
    )
    return Checklist(
        metadata_imported=IdentityProvider.objects.filter(slug=connection.slug).exists(),
        first_scim_request=scim_seen,
        first_login=logged_in,
    )


def connection_tokens(connection: Connection) -> list[ScimToken]:
    return list(ScimToken.objects.filter(connection=connection).order_by("-created_at"))
