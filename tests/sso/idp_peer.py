"""An independent SAML identity provider for the end-to-end tests: PyPI pysaml2
(`saml2.server.Server`) builds the messages, Debian's xmlsec1 signs them.

It shares no code with `sso/`: it reads the SP only through what a real IdP sees (SP
metadata, the login redirect, the logout redirects), so a bug on one side cannot hide
a bug on the other. Every attack of SAML_SECURITY.md is made here by post-processing a
correctly signed response with lxml (see `Attack` helpers at the end).

Redirect-binding signatures (AuthnRequest, LogoutRequest, LogoutResponse) are made and
checked here with `cryptography` over the raw query string, as SAML bindings §3.4.4.1
defines them, so the check does not depend on either library's re-encoding.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import shutil
import uuid
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, quote_plus, unquote_plus, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.server import Server

XMLSEC1 = shutil.which("xmlsec1") or "/usr/bin/xmlsec1"

NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
}
SAML = "{{{}}}".format(NS["saml"])
DS = "{{{}}}".format(NS["ds"])

RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
DIGEST_SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
DIGEST_SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
BASIC_NAME_FORMAT = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
PASSWORD_PROTECTED = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
ASSERTION_NODE = "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"
RESPONSE_NODE = "urn:oasis:names:tc:SAML:2.0:protocol:Response"
LOGOUT_REQUEST_NODE = "urn:oasis:names:tc:SAML:2.0:protocol:LogoutRequest"
_HASHES = {RSA_SHA256: hashes.SHA256, RSA_SHA1: hashes.SHA1}


def saml_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


# --------------------------------------------------------------------------- keys


@dataclass(frozen=True)
class KeyPair:
    """An RSA key and its self-signed certificate, also written to files for xmlsec1."""

    key_pem: bytes
    cert_pem: bytes
    key_file: Path
    cert_file: Path

    @classmethod
    def generate(cls, directory: Path, name: str) -> KeyPair:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=3650))
            .sign(key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        directory.mkdir(parents=True, exist_ok=True)
        key_file, cert_file = directory / f"{name}.key", directory / f"{name}.crt"
        key_file.write_bytes(key_pem)
        cert_file.write_bytes(cert_pem)
        return cls(key_pem=key_pem, cert_pem=cert_pem, key_file=key_file, cert_file=cert_file)

    @property
    def cert_b64(self) -> str:
        """The certificate as metadata and KeyInfo carry it: base64 DER, no armour."""
        return "".join(
            line for line in self.cert_pem.decode().splitlines() if "CERTIFICATE" not in line
        )

    def private_key(self) -> rsa.RSAPrivateKey:
        key = serialization.load_pem_private_key(self.key_pem, password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key


def certificate_from_b64(body: str) -> x509.Certificate:
    return x509.load_der_x509_certificate(base64.b64decode("".join(body.split())))


# --------------------------------------------------------------- redirect binding


def deflate(xml: str | bytes) -> bytes:
    raw = xml.encode() if isinstance(xml, str) else xml
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(raw) + compressor.flush()


def inflate(data: bytes) -> str:
    return zlib.decompress(data, -15).decode()


def redirect_url(
    location: str,
    *,
    kind: str,
    xml: str | bytes,
    relay_state: str | None = None,
    key: KeyPair | None = None,
    sig_alg: str = RSA_SHA256,
    raw_payload: bytes | None = None,
) -> str:
    """A Redirect-binding URL carrying xml (or raw_payload, already deflated), signed
    over the exact encoded query when key is given."""
    payload = raw_payload if raw_payload is not None else deflate(xml)
    parts = [f"{kind}={quote_plus(base64.b64encode(payload).decode())}"]
    if relay_state is not None:
        parts.append(f"RelayState={quote_plus(relay_state)}")
    if key is not None:
        parts.append(f"SigAlg={quote_plus(sig_alg)}")
        signed = "&".join(parts).encode()
        signature = key.private_key().sign(signed, padding.PKCS1v15(), _HASHES[sig_alg]())
        parts.append(f"Signature={quote_plus(base64.b64encode(signature).decode())}")
    separator = "&" if urlsplit(location).query else "?"
    return location + separator + "&".join(parts)


@dataclass
class RedirectMessage:
    """A SAML message received through the Redirect binding."""

    kind: str  # SAMLRequest or SAMLResponse
    xml: str
    relay_state: str | None
    sig_alg: str | None
    signed_by: str | None  # base64 body of the certificate that verified, if any
    raw_query: str

    @property
    def root(self) -> etree._Element:
        return etree.fromstring(self.xml.encode())

    @property
    def id(self) -> str:
        return self.root.get("ID", "")


def redirect_message_read(url: str, trusted_certs: Iterable[str]) -> RedirectMessage:
    """Decode a Redirect-binding URL and check its signature against trusted_certs."""
    query = urlsplit(url).query
    raw = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
    kind = "SAMLRequest" if "SAMLRequest" in raw else "SAMLResponse"
    xml = inflate(base64.b64decode(unquote_plus(raw[kind])))
    signed_by = None
    sig_alg = unquote_plus(raw["SigAlg"]) if "SigAlg" in raw else None
    if "Signature" in raw and sig_alg in _HASHES:
        signed = "&".join(
            f"{name}={raw[name]}" for name in (kind, "RelayState", "SigAlg") if name in raw
        ).encode()
        signature = base64.b64decode(unquote_plus(raw["Signature"]))
        for body in trusted_certs:
            public_key = certificate_from_b64(body).public_key()
            assert isinstance(public_key, rsa.RSAPublicKey)
            try:
                public_key.verify(signature, signed, padding.PKCS1v15(), _HASHES[sig_alg]())
            except InvalidSignature:
                continue
            signed_by = body
            break
    relay = unquote_plus(raw["RelayState"]) if "RelayState" in raw else None
    return RedirectMessage(kind, xml, relay, sig_alg, signed_by, query)


# ---------------------------------------------------------------------- the peer


@dataclass
class AuthnRequestSeen:
    id: str
    acs_url: str
    issuer: str
    relay_state: str | None
    signed: bool
    sig_alg: str | None


@dataclass
class SpView:
    """What the IdP knows about the SP: read from the SP's metadata."""

    entity_id: str
    acs_url: str
    sls_url: str
    certificates: list[str] = field(default_factory=list)


def sp_metadata_read(xml: str | bytes) -> SpView:
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    sp = root.find("md:SPSSODescriptor", NS)
    assert sp is not None, "no SPSSODescriptor in SP metadata"
    acs = sp.find("md:AssertionConsumerService", NS)
    sls = sp.find("md:SingleLogoutService", NS)
    certs = [
        "".join((el.text or "").split())
        for el in sp.iterfind("md:KeyDescriptor//ds:X509Certificate", NS)
    ]
    return SpView(
        entity_id=root.get("entityID", ""),
        acs_url=acs.get("Location", "") if acs is not None else "",
        sls_url=sls.get("Location", "") if sls is not None else "",
        certificates=certs,
    )


class IdpPeer:
    """A SAML IdP with its own keys. Call `trust_sp(metadata)` before answering."""

    def __init__(
        self,
        directory: Path,
        *,
        entity_id: str = "https://idp.example.test/saml/metadata",
        base_url: str = "https://idp.example.test/saml",
        key: KeyPair | None = None,
    ) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.entity_id = entity_id
        self.sso_url = f"{base_url}/sso"
        self.slo_url = f"{base_url}/slo"
        self.key = key or KeyPair.generate(directory, "idp-signing")
        # Keys also published in metadata (rollover) but not the default signer.
        self.extra_keys: list[KeyPair] = []
        self.sp: SpView | None = None
        self.server: Server | None = None

    # -- metadata ---------------------------------------------------------------

    def metadata_xml(self, keys: Sequence[KeyPair] | None = None) -> str:
        keys = list(keys) if keys is not None else [self.key, *self.extra_keys]
        key_descriptors = "".join(
            f'<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
            f"{k.cert_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
            for k in keys
        )
        return (
            '<?xml version="1.0"?>'
            f'<md:EntityDescriptor xmlns:md="{NS["md"]}" xmlns:ds="{NS["ds"]}" '
            f'entityID="{self.entity_id}">'
            f'<md:IDPSSODescriptor WantAuthnRequestsSigned="true" '
            f'protocolSupportEnumeration="{NS["samlp"]}">'
            f"{key_descriptors}"
            f'<md:SingleLogoutService Binding="{BINDING_HTTP_REDIRECT}" '
            f'Location="{self.slo_url}"/>'
            f"<md:NameIDFormat>{NAMEID_FORMAT_EMAILADDRESS}</md:NameIDFormat>"
            f'<md:SingleSignOnService Binding="{BINDING_HTTP_REDIRECT}" '
            f'Location="{self.sso_url}"/>'
            f'<md:SingleSignOnService Binding="{BINDING_HTTP_POST}" Location="{self.sso_url}"/>'
            "</md:IDPSSODescriptor></md:EntityDescriptor>"
        )

    def write_metadata(
        self, path: Path | None = None, keys: Sequence[KeyPair] | None = None
    ) -> Path:
        path = path or self.directory / "idp-metadata.xml"
        path.write_text(self.metadata_xml(keys))
        return path

    # -- the SP -----------------------------------------------------------------

    def trust_sp(self, sp_metadata: str | bytes) -> SpView:
        """Load the SP's metadata: its entity ID, ACS, SLS and request-signing certs."""
        text = sp_metadata.decode() if isinstance(sp_metadata, bytes) else sp_metadata
        self.sp = sp_metadata_read(text)
        config = IdPConfig().load(
            {
                "entityid": self.entity_id,
                "xmlsec_binary": XMLSEC1,
                "key_file": str(self.key.key_file),
                "cert_file": str(self.key.cert_file),
                "metadata": {"inline": [text]},
                "accepted_time_diff": 60,
                "service": {
                    "idp": {
                        "endpoints": {
                            "single_sign_on_service": [
                                (self.sso_url, BINDING_HTTP_REDIRECT),
                                (self.sso_url, BINDING_HTTP_POST),
                            ],
                            "single_logout_service": [(self.slo_url, BINDING_HTTP_REDIRECT)],
                        },
                        "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                        "want_authn_requests_signed": False,  # checked over the raw query
                        "policy": {"default": {"lifetime": {"minutes": 5}}},
                    }
                },
            }
        )
        self.server = Server(config=config)
        return self.sp

    def _need_sp(self) -> tuple[SpView, Server]:
        assert self.sp is not None, "call trust_sp() first"
        assert self.server is not None
        return self.sp, self.server

    # -- login ------------------------------------------------------------------

    def authn_request_read(self, login_redirect: str) -> AuthnRequestSeen:
        """Parse the SP's AuthnRequest from its login redirect, checking its signature
        against the SP's published certificates."""
        sp, server = self._need_sp()
        assert login_redirect.startswith(self.sso_url + "?"), login_redirect
        message = redirect_message_read(login_redirect, sp.certificates)
        request = server.parse_authn_request(
            urlsplit(login_redirect).query and _raw_param(login_redirect, "SAMLRequest"),
            BINDING_HTTP_REDIRECT,
        ).message
        return AuthnRequestSeen(
            id=request.id,
            acs_url=request.assertion_consumer_service_url or sp.acs_url,
            issuer=request.issuer.text.strip() if request.issuer is not None else "",
            relay_state=message.relay_state,
            signed=message.signed_by is not None,
            sig_alg=message.sig_alg,
        )

    def response_xml(
        self,
        *,
        name_id: str,
        name_id_format: str = NAMEID_FORMAT_EMAILADDRESS,
        attributes: Mapping[str, str | Sequence[str]] | None = None,
        in_response_to: str | None = None,
        destination: str | None = None,
        recipient: str | None = None,
        audience: str | None = None,
        issuer: str | None = None,
        session_index: str | None = None,
        not_before: dt.datetime | None = None,
        not_on_or_after: dt.datetime | None = None,
        issue_instant: dt.datetime | None = None,
        status: str | None = None,
        sign_assertion: bool = True,
        sign_response: bool = False,
        sha1: bool = False,
        signer: KeyPair | None = None,
    ) -> str:
        """A signed Response for name_id, as the SP expects unless told otherwise."""
        sp, server = self._need_sp()
        acs = sp.acs_url
        unsigned = server.create_authn_response(
            identity={},
            in_response_to=in_response_to,
            destination=destination or acs,
            sp_entity_id=sp.entity_id,
            name_id=NameID(format=name_id_format, text=name_id),
            authn={"class_ref": PASSWORD_PROTECTED},
            sign_response=False,
            sign_assertion=False,
        )
        root = etree.fromstring(str(unsigned).encode())
        self._shape(
            root,
            attributes=attributes or {},
            in_response_to=in_response_to,
            recipient=recipient or acs,
            session_index=session_index or f"_session-{uuid.uuid4().hex}",
            not_before=not_before,
            not_on_or_after=not_on_or_after,
            issue_instant=issue_instant,
            issuer=issuer,
            status=status,
            audience=audience,
        )
        xml = etree.tostring(root).decode()
        return self.sign(
            xml,
            sign_assertion=sign_assertion,
            sign_response=sign_response,
            sha1=sha1,
            signer=signer,
        )

    def _shape(
        self,
        root: etree._Element,
        *,
        attributes: Mapping[str, str | Sequence[str]],
        in_response_to: str | None,
        recipient: str,
        session_index: str,
        not_before: dt.datetime | None,
        not_on_or_after: dt.datetime | None,
        issue_instant: dt.datetime | None,
        issuer: str | None,
        status: str | None,
        audience: str | None,
    ) -> None:
        """Set exactly what the tests control, whatever pysaml2 defaulted."""
        assertion = root.find("saml:Assertion", NS)
        assert assertion is not None
        moment = issue_instant or now()
        start = not_before or (moment - dt.timedelta(seconds=30))
        end = not_on_or_after or (moment + dt.timedelta(minutes=5))
        for element in (root, assertion):
            element.set("IssueInstant", saml_time(moment))
        if in_response_to is None:
            root.attrib.pop("InResponseTo", None)
        if issuer is not None:
            for element in root.iterfind(".//saml:Issuer", NS):
                element.text = issuer
        if status is not None:
            code = root.find("samlp:Status/samlp:StatusCode", NS)
            assert code is not None
            code.set("Value", status)
        confirmation = assertion.find("saml:Subject/saml:SubjectConfirmation", NS)
        assert confirmation is not None
        data = confirmation.find("saml:SubjectConfirmationData", NS)
        if data is None:
            data = etree.SubElement(confirmation, SAML + "SubjectConfirmationData")
        data.set("Recipient", recipient)
        data.set("NotOnOrAfter", saml_time(end))
        data.attrib.pop("NotBefore", None)
        if in_response_to is None:
            data.attrib.pop("InResponseTo", None)
        else:
            data.set("InResponseTo", in_response_to)
        conditions = assertion.find("saml:Conditions", NS)
        assert conditions is not None
        conditions.set("NotBefore", saml_time(start))
        conditions.set("NotOnOrAfter", saml_time(end))
        if audience is not None:
            for element in conditions.iterfind("saml:AudienceRestriction/saml:Audience", NS):
                element.text = audience
        statement = assertion.find("saml:AuthnStatement", NS)
        assert statement is not None
        statement.set("SessionIndex", session_index)
        statement.set("AuthnInstant", saml_time(moment))
        statement.attrib.pop("SessionNotOnOrAfter", None)
        for old in assertion.findall("saml:AttributeStatement", NS):
            assertion.remove(old)
        if attributes:
            attribute_statement = etree.SubElement(assertion, SAML + "AttributeStatement")
            for name, values in attributes.items():
                attribute = etree.SubElement(
                    attribute_statement,
                    SAML + "Attribute",
                    Name=name,
                    NameFormat=BASIC_NAME_FORMAT,
                )
                for value in [values] if isinstance(values, str) else values:
                    etree.SubElement(attribute, SAML + "AttributeValue").text = value

    # -- signing ----------------------------------------------------------------

    def sign(
        self,
        xml: str,
        *,
        sign_assertion: bool = True,
        sign_response: bool = False,
        sha1: bool = False,
        signer: KeyPair | None = None,
    ) -> str:
        """Sign the assertion and/or the response with xmlsec1 (through pysaml2's
        security context), with the IdP's key unless another signer is given (its
        certificate then goes into KeyInfo, as an attacker would put it)."""
        _, server = self._need_sp()
        signer = signer or self.key
        root = etree.fromstring(xml.encode())
        if sign_assertion:
            assertion = root.find("saml:Assertion", NS)
            assert assertion is not None
            _signature_template_insert(assertion, signer, sha1=sha1)
            xml = server.sec.sign_statement(
                etree.tostring(root).decode(),
                ASSERTION_NODE,
                key_file=str(signer.key_file),
                node_id=assertion.get("ID"),
            )
            root = etree.fromstring(xml.encode())
        if sign_response:
            _signature_template_insert(root, signer, sha1=sha1)
            xml = server.sec.sign_statement(
                etree.tostring(root).decode(),
                RESPONSE_NODE,
                key_file=str(signer.key_file),
                node_id=root.get("ID"),
            )
            root = etree.fromstring(xml.encode())
        return etree.tostring(root).decode()

    # -- logout -----------------------------------------------------------------

    def _logout_request_xml(self, name_id: str, session_index: str | None) -> str:
        sp, server = self._need_sp()
        _, request = server.create_logout_request(
            destination=sp.sls_url,
            issuer_entity_id=sp.entity_id,
            name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=name_id),
            session_indexes=[session_index] if session_index else None,
            sign=False,
        )
        self.last_logout_request_id = request.id
        return str(request)

    def logout_request_url(
        self,
        *,
        name_id: str,
        session_index: str | None = None,
        relay_state: str | None = None,
        signed: bool = True,
        signer: KeyPair | None = None,
    ) -> str:
        """An IdP-initiated LogoutRequest for the SP's SLS, Redirect binding."""
        sp, _ = self._need_sp()
        xml = self._logout_request_xml(name_id, session_index)
        return redirect_url(
            sp.sls_url,
            kind="SAMLRequest",
            xml=xml,
            relay_state=relay_state,
            key=(signer or self.key) if signed else None,
        )

    def logout_request_post(
        self,
        *,
        name_id: str,
        session_index: str | None = None,
        relay_state: str | None = None,
        signed: bool = True,
        signer: KeyPair | None = None,
    ) -> dict[str, str]:
        """An IdP-initiated LogoutRequest for the SP's SLS, HTTP-POST binding: the XML
        itself carries the (enveloped) signature. Returns the form fields."""
        _, server = self._need_sp()
        xml = self._logout_request_xml(name_id, session_index)
        if signed:
            signer = signer or self.key
            root = etree.fromstring(xml.encode())
            _signature_template_insert(root, signer, sha1=False)
            xml = server.sec.sign_statement(
                etree.tostring(root).decode(),
                LOGOUT_REQUEST_NODE,
                key_file=str(signer.key_file),
                node_id=root.get("ID"),
            )
        fields = {"SAMLRequest": base64.b64encode(xml.encode()).decode()}
        if relay_state is not None:
            fields["RelayState"] = relay_state
        return fields

    def logout_response_read(self, url: str) -> RedirectMessage:
        """The SP's LogoutResponse (Redirect binding), signature checked."""
        sp, _ = self._need_sp()
        return redirect_message_read(url, sp.certificates)

    def logout_request_read(self, url: str) -> RedirectMessage:
        """The SP's LogoutRequest sent to our SLO endpoint, signature checked."""
        sp, _ = self._need_sp()
        assert url.startswith(self.slo_url + "?"), url
        return redirect_message_read(url, sp.certificates)

    def logout_response_url(
        self, request: RedirectMessage, *, signed: bool = True, status: str | None = None
    ) -> str:
        """Answer the SP's LogoutRequest with a LogoutResponse to its SLS."""
        sp, _ = self._need_sp()
        code = status or "urn:oasis:names:tc:SAML:2.0:status:Success"
        xml = (
            f'<samlp:LogoutResponse xmlns:samlp="{NS["samlp"]}" xmlns:saml="{NS["saml"]}" '
            f'ID="_{uuid.uuid4().hex}" Version="2.0" IssueInstant="{saml_time(now())}" '
            f'Destination="{sp.sls_url}" InResponseTo="{request.id}">'
            f"<saml:Issuer>{self.entity_id}</saml:Issuer>"
            f'<samlp:Status><samlp:StatusCode Value="{code}"/></samlp:Status>'
            "</samlp:LogoutResponse>"
        )
        return redirect_url(
            sp.sls_url,
            kind="SAMLResponse",
            xml=xml,
            relay_state=request.relay_state,
            key=self.key if signed else None,
        )


def _raw_param(url: str, name: str) -> str:
    return dict(parse_qsl(urlsplit(url).query))[name]


def _signature_template_insert(element: etree._Element, signer: KeyPair, *, sha1: bool) -> None:
    """An enveloped-signature template right after the element's Issuer (schema order)."""
    sig_alg, digest_alg = (RSA_SHA1, DIGEST_SHA1) if sha1 else (RSA_SHA256, DIGEST_SHA256)
    template = etree.fromstring(
        f'<ds:Signature xmlns:ds="{NS["ds"]}"><ds:SignedInfo>'
        f'<ds:CanonicalizationMethod Algorithm="{EXC_C14N}"/>'
        f'<ds:SignatureMethod Algorithm="{sig_alg}"/>'
        f'<ds:Reference URI="#{element.get("ID")}"><ds:Transforms>'
        f'<ds:Transform Algorithm="{ENVELOPED}"/><ds:Transform Algorithm="{EXC_C14N}"/>'
        f'</ds:Transforms><ds:DigestMethod Algorithm="{digest_alg}"/>'
        "<ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/>"
        f"<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{signer.cert_b64}"
        "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"
    )
    issuer = element.find("saml:Issuer", NS)
    assert issuer is not None
    issuer.addnext(template)


# ----------------------------------------------------------------- HTTP helpers


def post_form(xml: str, relay_state: str | None = None) -> dict[str, str]:
    """The HTTP-POST binding form fields for a Response."""
    data = {"SAMLResponse": base64.b64encode(xml.encode()).decode()}
    if relay_state is not None:
        data["RelayState"] = relay_state
    return data


def post_form_html(action: str, fields: Mapping[str, str]) -> str:
    """The auto-submitting page an IdP returns to the browser."""
    from html import escape

    inputs = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}"/>' for k, v in fields.items()
    )
    return (
        '<!DOCTYPE html><html><body onload="document.forms[0].submit()">'
        f'<form method="post" action="{escape(action)}">{inputs}'
        '<noscript><button type="submit">Continue</button></noscript></form></body></html>'
    )


def query_param(url: str, name: str) -> str | None:
    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if key == name:
            return value
    return None


# --------------------------------------------------------------------- attacks
#
# Each takes a correctly signed Response (XML text) and returns the tampered text.


def _parse(xml: str) -> etree._Element:
    return etree.fromstring(xml.encode())


def _text(root: etree._Element) -> str:
    return etree.tostring(root).decode()


def strip_signatures(xml: str) -> str:
    """Every ds:Signature removed: an unsigned response and assertion."""
    root = _parse(xml)
    for signature in root.findall(".//ds:Signature", NS):
        signature.getparent().remove(signature)
    return _text(root)


def strip_assertion_signature(xml: str) -> str:
    """The assertion's own signature removed; the response's (if any) kept."""
    root = _parse(xml)
    assertion = root.find("saml:Assertion", NS)
    assert assertion is not None
    signature = assertion.find("ds:Signature", NS)
    assert signature is not None, "the assertion was not signed"
    assertion.remove(signature)
    return _text(root)


def xsw_evil_assertion_first(xml: str, evil_name_id: str) -> str:
    """Signature wrapping: an unsigned copy of the assertion naming evil_name_id is
    inserted before the signed one, which keeps its valid signature."""
    root = _parse(xml)
    signed = root.find("saml:Assertion", NS)
    assert signed is not None
    evil = copy.deepcopy(signed)
    evil.set("ID", f"_evil{uuid.uuid4().hex}")
    evil_signature = evil.find("ds:Signature", NS)
    if evil_signature is not None:
        evil.remove(evil_signature)
    name_id = evil.find("saml:Subject/saml:NameID", NS)
    assert name_id is not None
    name_id.text = evil_name_id
    signed.addprevious(evil)
    return _text(root)


def xsw_signed_assertion_moved(xml: str, evil_name_id: str) -> str:
    """Signature wrapping: the signed assertion moved into the evil assertion's
    Signature/Object, so a naive reference lookup by ID still finds it."""
    root = _parse(xml)
    signed = root.find("saml:Assertion", NS)
    assert signed is not None
    evil = copy.deepcopy(signed)
    evil.set("ID", f"_evil{uuid.uuid4().hex}")
    name_id = evil.find("saml:Subject/saml:NameID", NS)
    assert name_id is not None
    name_id.text = evil_name_id
    evil_signature = evil.find("ds:Signature", NS)
    assert evil_signature is not None, "the assertion was not signed"
    wrapper = etree.SubElement(evil_signature, DS + "Object")
    root.remove(signed)
    wrapper.append(signed)
    root.append(evil)
    return _text(root)


def name_id_replace(xml: str, value: str) -> str:
    """Change the NameID after signing (breaks the digest)."""
    root = _parse(xml)
    name_id = root.find("saml:Assertion/saml:Subject/saml:NameID", NS)
    assert name_id is not None
    name_id.text = value
    return _text(root)


def name_id_comment_inject(xml: str, visible_prefix: str) -> str:
    """Comment injection: `admin@x.com<!---->.evil.com`. Exclusive c14n drops comments,
    so the signature stays valid; a parser reading only the first text node would see
    visible_prefix. The NameID must start with visible_prefix."""
    root = _parse(xml)
    name_id = root.find("saml:Assertion/saml:Subject/saml:NameID", NS)
    assert name_id is not None
    assert (name_id.text or "").startswith(visible_prefix)
    rest = (name_id.text or "")[len(visible_prefix) :]
    name_id.text = visible_prefix
    comment = etree.Comment("")
    comment.tail = rest
    name_id.append(comment)
    return _text(root)


def doctype_xxe(xml: str) -> str:
    """An external entity (file read) declared in a DOCTYPE and used in the NameID."""
    root = _parse(xml)
    name_id = root.find("saml:Assertion/saml:Subject/saml:NameID", NS)
    assert name_id is not None
    marker = f"XXE{uuid.uuid4().hex}"
    name_id.text = marker
    text = _text(root).replace(marker, "&xxe;")
    return '<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' + text


def billion_laughs(xml: str) -> str:
    """Entity expansion (billion laughs) declared in a DOCTYPE and used in an attribute."""
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    root = _parse(xml)
    name_id = root.find("saml:Assertion/saml:Subject/saml:NameID", NS)
    assert name_id is not None
    marker = f"LOL{uuid.uuid4().hex}"
    name_id.text = marker
    return f"<!DOCTYPE r [{entities}]>" + _text(root).replace(marker, "&lol9;")


def deflate_bomb(megabytes: int = 64) -> bytes:
    """A raw-deflated payload that inflates to `megabytes` MB of spaces inside a
    LogoutRequest-looking envelope (a few tens of kB on the wire)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = f'<samlp:LogoutRequest xmlns:samlp="{NS["samlp"]}" ID="_bomb" Version="2.0">'.encode()
    out = [compressor.compress(head)]
    chunk = b" " * (1024 * 1024)
    for _ in range(megabytes):
        out.append(compressor.compress(chunk))
    out.append(compressor.compress(b"</samlp:LogoutRequest>"))
    out.append(compressor.flush())
    return b"".join(out)
