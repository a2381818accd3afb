"""SP metadata (what an IdP admin imports) and IdP metadata (what we import)."""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from django.conf import settings
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.metadata import OneLogin_Saml2_Metadata

from axero_idp.errors import ValidationFailed
from sso.inbound import xml_parse
from sso.models import IdentityProvider, SsoBinding
from sso.refusals import SamlRefused
from sso.saml_settings import saml_settings

METADATA_MAX_BYTES: Final = 1024 * 1024
METADATA_TIMEOUT: Final = 10.0


def sp_metadata_xml(idp: IdentityProvider) -> str:
    """Our metadata for idp: entity ID, ACS, SLS, every active signing certificate."""
    built = saml_settings(idp)
    sp = dict(built.login.get_sp_data())
    metadata = OneLogin_Saml2_Metadata.builder(sp, authnsign=True, wsign=idp.want_assertions_signed)
    for cert in built.sp_certificates:
        metadata = OneLogin_Saml2_Metadata.add_x509_key_descriptors(metadata, cert, False)
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
    binding, parsed = SsoBinding.REDIRECT, _parse(data, C.BINDING_HTTP_REDIRECT)
    if not parsed.get("singleSignOnService"):
        binding, parsed = SsoBinding.POST, _parse(data, C.BINDING_HTTP_POST)
    if not parsed.get("entityId") or not parsed.get("singleSignOnService"):
        raise ValidationFailed("metadata: no IDPSSODescriptor with an entity ID and an SSO URL")
    certs: list[str] = []
    multi = parsed.get("x509certMulti", {})
    for cert in [parsed.get("x509cert"), *multi.get("signing", [])]:
        if cert and cert not in certs:
            certs.append(cert)
    if not certs:
        raise ValidationFailed("metadata: no signing certificate")
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


def _parse(data: bytes, sso_binding: str) -> dict[str, Any]:
    try:
        result = OneLogin_Saml2_IdPMetadataParser.parse(
            data, required_sso_binding=sso_binding, required_slo_binding=C.BINDING_HTTP_REDIRECT
        )
    except Exception as exc:
        raise ValidationFailed(f"metadata: {type(exc).__name__}: {exc}") from exc
    return dict(result.get("idp", {}))


def _address_for(host: str, port: int) -> str:
    """The address to connect to: resolved once, every answer checked, and that same
    address used for the connection, so a second DNS answer (rebinding) cannot point
    the fetch at an internal host after the check."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ValidationFailed(f"metadata URL: cannot resolve {host!r}") from exc
    addresses = [str(info[4][0]) for info in infos]
    if not getattr(settings, "SAML_METADATA_ALLOW_PRIVATE_NETWORKS", False):
        for address in addresses:
            if not ipaddress.ip_address(address).is_global:
                raise ValidationFailed(f"metadata URL: {host!r} resolves to a non-public address")
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, *, address: str, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, *, address: str, **kwargs: Any) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(host, context=self._tls, **kwargs)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        # The certificate is still verified against the host name of the URL.
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def idp_metadata_fetch(url: str) -> bytes:
    """Fetch metadata: https only (http too when private networks are allowed, for
    tests), public addresses only (checked and pinned), no redirects, size cap, timeout."""
    allow_private = getattr(settings, "SAML_METADATA_ALLOW_PRIVATE_NETWORKS", False)
    parts = urlsplit(url)
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise ValidationFailed("metadata URL must be https")
    if not parts.hostname:
        raise ValidationFailed("metadata URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise ValidationFailed("metadata URL has a bad port") from exc
    address = _address_for(parts.hostname, port)
    connection_class = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    conn = connection_class(parts.hostname, port=port, address=address, timeout=METADATA_TIMEOUT)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request(
            "GET", path, headers={"Accept": "application/samlmetadata+xml, application/xml"}
        )
        response = conn.getresponse()
        # http.client follows no redirect: a Location could name an internal host.
        if response.status != 200:
            raise ValidationFailed(f"metadata URL answered HTTP {response.status}")
        body = response.read(METADATA_MAX_BYTES + 1)
    except (OSError, http.client.HTTPException) as exc:
        raise MetadataFetchFailed(f"metadata fetch failed: {type(exc).__name__}") from exc
    finally:
        conn.close()
    if len(body) > METADATA_MAX_BYTES:
        raise ValidationFailed(f"metadata larger than {METADATA_MAX_BYTES} bytes")
    return body


class MetadataFetchFailed(ValidationFailed):
    """A network failure (worth a retry), as opposed to bad metadata."""
