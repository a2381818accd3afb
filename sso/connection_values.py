"""The values an IdP admin pastes for one connection (admin's connection page and the
setup link's page): every URL built from SITE_URL, as the SP uses them."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse

from sso.saml_settings import SpUrls


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
