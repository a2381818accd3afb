"""A small signing identity provider for trying SSO on a development machine
(`manage.py dev_idp`): loopback only, a few sample people, RSA-SHA256 signed
assertions, built on the runtime's own python3-saml and xmlsec (no pysaml2). Never for
production: the command refuses to start unless DEBUG is on."""

from __future__ import annotations

import datetime as dt
import html
import secrets
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Final
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape, quoteattr

from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from sso.keys import key_pair_generate
from sso.saml_settings import SpUrls

ASSERTION_LIFETIME: Final = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Person:
    email: str
    first_name: str
    last_name: str
    title: str
    department: str
    roles: tuple[str, ...]
    hire_date: str
    manager: str = ""

    def attributes(self) -> dict[str, list[str]]:
        """OneLogin's attribute names (the default attribute map reads them)."""
        values = {
            "User.email": [self.email],
            "User.FirstName": [self.first_name],
            "User.LastName": [self.last_name],
            "title": [self.title],
            "department": [self.department],
            "memberOf": list(self.roles),
            "hireDate": [self.hire_date],
        }
        if self.manager:
            values["manager"] = [self.manager]
        return values


SAMPLE_PEOPLE: Final = (
    Person(
        "ada@example.com", "Ada", "Lovelace", "Chief Engineer", "Engineering",
        ("Engineering", "Leads"), "2019-04-01",
    ),
    Person(
        "grace@example.com", "Grace", "Hopper", "Engineer", "Engineering",
        ("Engineering",), "2023-09-12", "ada@example.com",
    ),
    Person(
        "alan@example.com", "Alan", "Turing", "Researcher", "Research",
        ("Research",), "2021-01-18", "ada@example.com",
    ),
    Person(
        "katherine@example.com", "Katherine", "Johnson", "Account Executive", "Sales",
        ("Sales",), "2026-11-30",
    ),
)  # fmt: skip


def _instant(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class DevIdp:
    """The IdP's protocol side, without the HTTP server (tests drive it directly)."""

    base_url: str
    slug: str
    certificate_pem: str
    private_key_pem: str
    people: tuple[Person, ...] = SAMPLE_PEOPLE
    _seen: set[str] = field(default_factory=set)

    @classmethod
    def with_keys_in(cls, directory: Path, *, base_url: str, slug: str) -> DevIdp:
        """Keys kept in directory, so the metadata stays the same across restarts."""
        directory.mkdir(parents=True, exist_ok=True)
        cert_file, key_file = directory / "cert.pem", directory / "key.pem"
        if not (cert_file.exists() and key_file.exists()):
            cert_pem, key_pem = key_pair_generate("axero dev IdP")
            key_file.write_text(key_pem)
            key_file.chmod(0o600)
            cert_file.write_text(cert_pem)
        return cls(base_url, slug, cert_file.read_text(), key_file.read_text())

    @property
    def entity_id(self) -> str:
        return f"{self.base_url}/metadata"

    def metadata_xml(self) -> str:
        cert = OneLogin_Saml2_Utils.format_cert(self.certificate_pem, heads=False)
        return (
            f'<md:EntityDescriptor xmlns:md="{C.NS_MD}" xmlns:ds="{C.NS_DS}" '
            f"entityID={quoteattr(self.entity_id)}>"
            f'<md:IDPSSODescriptor WantAuthnRequestsSigned="true" '
            f'protocolSupportEnumeration="{C.NS_SAMLP}">'
            '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
            f"{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
            f"<md:NameIDFormat>{C.NAMEID_EMAIL_ADDRESS}</md:NameIDFormat>"
            f'<md:SingleSignOnService Binding="{C.BINDING_HTTP_REDIRECT}" '
            f"Location={quoteattr(self.base_url + '/sso')}/>"
            "</md:IDPSSODescriptor></md:EntityDescriptor>"
        )

    def request_read(self, saml_request: str) -> str:
        """The ID of an AuthnRequest (HTTP-Redirect binding); only requests for our own
        connection's ACS are answered."""
        root = OneLogin_Saml2_XML.to_etree(
            OneLogin_Saml2_Utils.decode_base64_and_inflate(saml_request)
        )
        acs = root.get("AssertionConsumerServiceURL")
        if acs and acs != SpUrls.for_idp(self.slug).acs:
            raise ValueError(f"AuthnRequest for another ACS: {acs}")
        request_id = root.get("ID") or ""
        if not request_id:
            raise ValueError("AuthnRequest without an ID")
        return request_id

    def chooser_html(self, request_id: str, relay_state: str) -> str:
        buttons = "".join(
            f'<p><button type="submit" name="person" value="{html.escape(p.email)}">'
            f"{html.escape(p.first_name)} {html.escape(p.last_name)}</button> "
            f"{html.escape(p.title)}, {html.escape(p.department)}</p>"
            for p in self.people
        )
        return (
            "<!doctype html><html><head><meta charset='utf-8'><title>Dev IdP</title></head>"
            "<body><h1>Development identity provider</h1><p>Sign in as:</p>"
            f'<form method="post" action="/answer">'
            f'<input type="hidden" name="request_id" value="{html.escape(request_id)}">'
            f'<input type="hidden" name="relay_state" value="{html.escape(relay_state)}">'
            f"{buttons}</form></body></html>"
        )

    def response_for(self, *, request_id: str, email: str) -> tuple[str, str]:
        """(ACS URL, base64 SAMLResponse) for a sample person; each request once."""
        person = next((p for p in self.people if p.email == email), None)
        if person is None or request_id in self._seen:
            raise ValueError("unknown person or request already answered")
        self._seen.add(request_id)
        urls = SpUrls.for_idp(self.slug)
        assertion = OneLogin_Saml2_Utils.add_sign(
            self._assertion(person, request_id, urls),
            self.private_key_pem,
            self.certificate_pem,
            sign_algorithm=C.RSA_SHA256,
            digest_algorithm=C.SHA256,
        )
        now = _instant(dt.datetime.now(dt.UTC))
        response = (
            f'<samlp:Response xmlns:samlp="{C.NS_SAMLP}" xmlns:saml="{C.NS_SAML}" '
            f'ID="_{secrets.token_hex(20)}" Version="2.0" IssueInstant="{now}" '
            f"Destination={quoteattr(urls.acs)} InResponseTo={quoteattr(request_id)}>"
            f"<saml:Issuer>{escape(self.entity_id)}</saml:Issuer>"
            f'<samlp:Status><samlp:StatusCode Value="{C.STATUS_SUCCESS}"/></samlp:Status>'
            f"{assertion.decode()}</samlp:Response>"
        )
        return urls.acs, OneLogin_Saml2_Utils.b64encode(response)

    def _assertion(self, person: Person, request_id: str, urls: SpUrls) -> str:
        now = dt.datetime.now(dt.UTC)
        issued, until = _instant(now), _instant(now + ASSERTION_LIFETIME)
        before = _instant(now - dt.timedelta(minutes=1))
        attributes = "".join(
            f"<saml:Attribute Name={quoteattr(name)}>"
            + "".join(f"<saml:AttributeValue>{escape(v)}</saml:AttributeValue>" for v in values)
            + "</saml:Attribute>"
            for name, values in person.attributes().items()
        )
        return (
            f'<saml:Assertion xmlns:saml="{C.NS_SAML}" ID="_{secrets.token_hex(20)}" '
            f'Version="2.0" IssueInstant="{issued}">'
            f"<saml:Issuer>{escape(self.entity_id)}</saml:Issuer>"
            f'<saml:Subject><saml:NameID Format="{C.NAMEID_EMAIL_ADDRESS}">'
            f"{escape(person.email)}</saml:NameID>"
            f'<saml:SubjectConfirmation Method="{C.CM_BEARER}">'
            f'<saml:SubjectConfirmationData NotOnOrAfter="{until}" '
            f"Recipient={quoteattr(urls.acs)} InResponseTo={quoteattr(request_id)}/>"
            "</saml:SubjectConfirmation></saml:Subject>"
            f'<saml:Conditions NotBefore="{before}" NotOnOrAfter="{until}">'
            f"<saml:AudienceRestriction><saml:Audience>{escape(urls.entity_id)}"
            "</saml:Audience></saml:AudienceRestriction></saml:Conditions>"
            f'<saml:AuthnStatement AuthnInstant="{issued}" '
            f'SessionIndex="_{secrets.token_hex(12)}"><saml:AuthnContext>'
            f"<saml:AuthnContextClassRef>{C.AC_PASSWORD_PROTECTED}</saml:AuthnContextClassRef>"
            "</saml:AuthnContext></saml:AuthnStatement>"
            f"<saml:AttributeStatement>{attributes}</saml:AttributeStatement>"
            "</saml:Assertion>"
        )


def autopost_html(acs: str, saml_response: str, relay_state: str) -> str:
    """The page that carries the answer to the ACS (this IdP's own page: it may run an
    inline script, the SP's Content-Security-Policy does not apply here)."""
    return (
        "<!doctype html><html><body onload='document.forms[0].submit()'>"
        f'<form method="post" action="{html.escape(acs)}">'
        f'<input type="hidden" name="SAMLResponse" value="{html.escape(saml_response)}">'
        f'<input type="hidden" name="RelayState" value="{html.escape(relay_state)}">'
        "<noscript><button type='submit'>Continue</button></noscript></form></body></html>"
    )


def dev_idp_server(idp: DevIdp, port: int) -> ThreadingHTTPServer:
    """The IdP's HTTP side on 127.0.0.1 (never another interface)."""
    handler = type("DevIdpHandler", (_DevIdpHandler,), {"idp": idp})
    return ThreadingHTTPServer(("127.0.0.1", port), handler)


class _DevIdpHandler(BaseHTTPRequestHandler):
    idp: DevIdp  # set per server by dev_idp_server

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/metadata":
            self._send(200, self.idp.metadata_xml(), "application/samlmetadata+xml")
        elif parts.path == "/sso" and "SAMLRequest" in query:
            self._answer(lambda: self.idp.chooser_html(
                self.idp.request_read(query["SAMLRequest"]), query.get("RelayState", "")
            ))  # fmt: skip
        else:
            self._send(404, "not found", "text/plain")

    def do_POST(self) -> None:
        length = min(int(self.headers.get("Content-Length") or 0), 64 * 1024)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}

        def page() -> str:
            acs, response = self.idp.response_for(
                request_id=form.get("request_id", ""), email=form.get("person", "")
            )
            return autopost_html(acs, response, form.get("relay_state", ""))

        self._answer(page)

    def _answer(self, build: object) -> None:
        try:
            self._send(200, build(), "text/html; charset=utf-8")  # type: ignore[operator]
        except ValueError as exc:
            self._send(400, str(exc), "text/plain")

    def _send(self, status: int, body: str, content_type: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
