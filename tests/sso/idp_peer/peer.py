"""The IdP itself: pysaml2 `saml2.server.Server` builds the messages, xmlsec1 signs."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from lxml import etree
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.server import Server
from saml2.sigver import ASSERT_XPATH, get_pem_wrapped_unwrapped, pre_encryption_part

from tests.sso.idp_peer.bindings import (
    RedirectMessage,
    redirect_message_read,
    redirect_url,
)
from tests.sso.idp_peer.common import (
    ASSERTION_NODE,
    DIGEST_SHA1,
    DIGEST_SHA256,
    ENVELOPED,
    EXC_C14N,
    LOGOUT_REQUEST_NODE,
    NS,
    PASSWORD_PROTECTED,
    RESPONSE_NODE,
    RSA_SHA1,
    RSA_SHA256,
    SAML,
    XMLSEC1,
    now,
    saml_time,
)
from tests.sso.idp_peer.keys import KeyPair
from tests.sso.idp_peer.responses import OddShape, response_oddities_apply, response_shape


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
        odd: OddShape | None = None,
        encrypt: bool = False,
    ) -> str:
        """A signed Response for name_id, as the SP expects unless told otherwise:
        `odd` gives it the shapes a conformance suite tries (before signing), `encrypt`
        wraps the signed assertion in an EncryptedAssertion for the SP's certificate."""
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
        response_shape(
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
        if odd is not None:
            response_oddities_apply(root, odd)
        xml = etree.tostring(root).decode()
        if encrypt:
            # An IdP signs the assertion, then encrypts it, then signs the Response.
            xml = self.encrypt_assertion(
                self.sign(xml, sign_assertion=sign_assertion, sha1=sha1, signer=signer)
            )
            sign_assertion = False
        return self.sign(
            xml,
            sign_assertion=sign_assertion,
            sign_response=sign_response,
            sha1=sha1,
            signer=signer,
        )

    def encrypt_assertion(self, xml: str, certificate: str | None = None) -> str:
        """The Response's assertion (signed or not) encrypted for the SP's first published
        certificate (or `certificate`, a base64 body), by xmlsec1 through pysaml2:
        saml:EncryptedAssertion/xenc:EncryptedData with an RSA-OAEP key transport, as
        IdPs with assertion encryption on send it."""
        sp, server = self._need_sp()
        root = etree.fromstring(xml.encode())
        assertion = root.find("saml:Assertion", NS)
        assert assertion is not None
        wrapper = etree.Element(SAML + "EncryptedAssertion")
        assertion.addprevious(wrapper)
        wrapper.append(assertion)
        wrapped, unwrapped = get_pem_wrapped_unwrapped(certificate or sp.certificates[0])
        cert_file = self.directory / "sp-encryption-cert.pem"
        cert_file.write_text(wrapped)
        encrypted = server.sec.encrypt_assertion(
            etree.tostring(root).decode(),
            str(cert_file),
            pre_encryption_part(encrypt_cert=unwrapped),
            node_xpath=ASSERT_XPATH,
        )
        return etree.tostring(etree.fromstring(encrypted.encode())).decode()

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
