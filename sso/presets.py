"""Vendor presets for a new connection: the attribute map each identity provider's
usual set-up sends (SAML_SECURITY.md, "Attributes as identity providers send them") and
what its NameID is, shown on the admin's connection page next to its set-up steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from users.models import Vendor

ENTRA_CLAIMS: Final = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
ENTRA_ROLE: Final = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"


@dataclass(frozen=True)
class Preset:
    vendor: str
    label: str
    name_id: str
    # Overrides of sso.mapping.DEFAULT_ATTRIBUTE_MAP (the defaults already read
    # OneLogin's, Okta's and Entra ID's usual names).
    attribute_map: dict[str, list[str]] = field(default_factory=dict)


PRESETS: Final[dict[str, Preset]] = {
    Vendor.ONELOGIN: Preset(
        Vendor.ONELOGIN,
        "OneLogin",
        "Email (urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress)",
        {"roles": ["memberOf"]},
    ),
    Vendor.OKTA: Preset(
        Vendor.OKTA,
        "Okta",
        "EmailAddress (Okta's default Unspecified works too: matched exactly)",
        {"roles": ["roles", "groups"]},
    ),
    Vendor.ENTRA: Preset(
        Vendor.ENTRA,
        "Microsoft Entra ID",
        "the user principal name (UPN)",
        {
            "email": [f"{ENTRA_CLAIMS}emailaddress", f"{ENTRA_CLAIMS}name"],
            "first_name": [f"{ENTRA_CLAIMS}givenname"],
            "last_name": [f"{ENTRA_CLAIMS}surname"],
            "roles": [ENTRA_ROLE],
        },
    ),
    Vendor.GOOGLE: Preset(
        Vendor.GOOGLE,
        "Google Workspace",
        "Basic Information > Primary email (EMAIL format)",
        {
            "email": ["email"],
            "first_name": ["firstName"],
            "last_name": ["lastName"],
            "roles": ["groups"],
        },
    ),
    Vendor.SAML: Preset(
        Vendor.SAML,
        "Other SAML 2.0 identity provider",
        "an email, persistent or unspecified NameID (never transient)",
    ),
}


def preset_for(vendor: str) -> Preset:
    return PRESETS.get(vendor, PRESETS[Vendor.SAML])
