"""SP metadata (what an IdP admin imports) and IdP metadata (what we import)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from django.conf import settings
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.metadata import OneLogin_Saml2_Metadata

from axero_idp.errors import ValidationFailed
from axero_idp.safe_fetch import FetchFailed, FetchPolicy, FetchTooLarge, safe_fetch
from sso.inbound import xml_parse
from sso.keys import signing_key_pair
from sso.models import IdentityProvider, SsoBinding
from sso.refusals import SamlRefused
from sso.saml_settings import SpUrls, saml_settings

METADATA_MAX_BYTES: Final = 1024 * 1024
METADATA_TIMEOUT: Final = 10.0


def sp_metadata_xml(idp: IdentityProvider) -> str:
    """Our metadata for idp: entity ID, ACS, SLS, every active signing certificate, and
    the newest one also for encryption (what an IdP encrypting assertions should use;
    the older active keys still decrypt during a rollover)."""
    built = saml_settings(idp)
    sp = dict(built.login.get_sp_data())
    return _sp_metadata(sp, idp.want_assertions_signed, built.sp_certificates)


def sp_metadata_xml_pending(slug: str) -> str:
    """Our metadata for a connection whose IdP is not imported yet (some IdPs want the
    SP's metadata first): the same URLs and certificates, assertions signed (the
    default every import starts with)."""
    urls = SpUrls.for_idp(slug)
    _key, certificates = signing_key_pair()
    sp = {
        "entityId": urls.entity_id,
        "assertionConsumerService": {"url": urls.acs, "binding": C.BINDING_HTTP_POST},
        "singleLogoutService": {"url": urls.sls, "binding": C.BINDING_HTTP_REDIRECT},
        "NameIDFormat": C.NAMEID_UNSPECIFIED,
    }
    return _sp_metadata(sp, True, certificates)


def _sp_metadata(sp: dict[str, Any], want_assertions_signed: bool, certs: tuple[str, ...]) -> str:
    metadata = OneLogin_Saml2_Metadata.builder(sp, authnsign=True, wsign=want_assertions_signed)
    # Every active certificate signs; the newest is also the one an IdP encrypts for
    # (the older active keys still decrypt during a rollover).
    for index, cert in enumerate(certs):
        metadata = OneLogin_Saml2_Metadata.add_x509_key_descriptors(metadata, cert, index == 0)
    return metadata if isinstance(metadata, str) else metadata.decode()


@dataclass(frozen=True)
class IdpMetadata:
    entity_id: str
    sso_url: str
    sso_binding: str
    slo_url: str
    signing_certificates: list[str]


def idp_metadata_parse(xml: bytes | str) -> IdpMetadata:
    """The fields we need from an IdP's metadata; every signing certificate is kept
    (an IdP publishes two during a rollover)."""
    data = xml.encode() if isinstance(xml, str) else xml
    if len(data) > METADATA_MAX_BYTES:
        raise ValidationFailed(f"metadata larger than {METADATA_MAX_BYTES} bytes")
    try:
        xml_parse(data, allow_comments=True, root_tag=f"{{{C.NS_MD}}}EntityDescriptor")
    except SamlRefused as exc:
        raise ValidationFailed(f"metadata: {exc.message}") from exc
    binding, parsed = _sso_descriptor(data)
    certs = _signing_certificates(parsed)
    slo = parsed.get("singleLogoutService") or _parse(data, C.BINDING_HTTP_POST).get(
        "singleLogoutService", {}
    )
    return IdpMetadata(
        entity_id=parsed["entityId"],
        sso_url=parsed["singleSignOnService"]["url"],
        sso_binding=binding,
        slo_url=(slo or {}).get("url", ""),
        signing_certificates=certs,
    )


def _sso_descriptor(data: bytes) -> tuple[str, dict[str, Any]]:
    # The Redirect binding when the IdP offers it, else POST.
    binding, parsed = SsoBinding.REDIRECT, _parse(data, C.BINDING_HTTP_REDIRECT)
    if not parsed.get("singleSignOnService"):
        binding, parsed = SsoBinding.POST, _parse(data, C.BINDING_HTTP_POST)
    if not parsed.get("entityId") or not parsed.get("singleSignOnService"):
        raise ValidationFailed("metadata: no IDPSSODescriptor with an entity ID and an SSO URL")
    return binding, parsed


def _signing_certificates(parsed: dict[str, Any]) -> list[str]:
    certs: list[str] = []
    multi = parsed.get("x509certMulti", {})
    for cert in [parsed.get("x509cert"), *multi.get("signing", [])]:
        if cert and cert not in certs:
            certs.append(cert)
    if not certs:
        raise ValidationFailed("metadata: no signing certificate")
    return certs


def _parse(data: bytes, sso_binding: str) -> dict[str, Any]:
    try:
        result = OneLogin_Saml2_IdPMetadataParser.parse(
            data, required_sso_binding=sso_binding, required_slo_binding=C.BINDING_HTTP_REDIRECT
        )
    except Exception as exc:
        raise ValidationFailed(f"metadata: {type(exc).__name__}: {exc}") from exc
    return dict(result.get("idp", {}))


def idp_metadata_fetch(url: str) -> bytes:
    """Fetch metadata: https only (http too when private networks are allowed, for
    tests), public addresses only (checked and pinned), no redirects, size cap, timeout."""
    allow_private = bool(getattr(settings, "SAML_METADATA_ALLOW_PRIVATE_NETWORKS", False))
    policy = FetchPolicy(
        label="metadata URL",
        allow_private=allow_private,
        schemes=frozenset({"https", "http"} if allow_private else {"https"}),
        max_bytes=METADATA_MAX_BYTES,
        # A redirect is refused as "answered HTTP 3xx": the IdP admin gives the final URL.
        max_redirects=0,
        connect_timeout=METADATA_TIMEOUT,
        read_timeout=METADATA_TIMEOUT,
        deadline=3 * METADATA_TIMEOUT,
        accept="application/samlmetadata+xml, application/xml",
    )
    try:
        return safe_fetch(url, policy).body
    except FetchTooLarge as exc:
        raise ValidationFailed(f"metadata larger than {METADATA_MAX_BYTES} bytes") from exc
    except FetchFailed as exc:
        detail = exc.detail if exc.detail.startswith("metadata") else f"metadata {exc.detail}"
        raise MetadataFetchFailed(detail) from exc


class MetadataFetchFailed(ValidationFailed):
    """A network failure (worth a retry), as opposed to bad metadata."""
