"""Reads for the connection page: the values to paste into the IdP and the checklist."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse

from scim.models import ScimRequestLog, ScimToken
from sso.models import IdentityProvider, SamlIdentity
from sso.saml_settings import SpUrls
from users.models import AuditEvent, Connection


@dataclass(frozen=True)
class ConnectionValues:
    """What the IdP admin pastes: every URL built from SITE_URL, as the SP uses them."""

    entity_id: str
    acs: str
    sls: str
    login: str
    metadata: str
    scim_base: str

    @classmethod
    def for_slug(cls, slug: str) -> ConnectionValues:
        urls = SpUrls.for_idp(slug)
        base = settings.SITE_URL.rstrip("/")
        return cls(
            entity_id=urls.entity_id,
            acs=urls.acs,
            sls=urls.sls,
            login=base + reverse("sso:login", args=[slug]),
            metadata=urls.entity_id,
            scim_base=base + "/scim/v2",
        )


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
