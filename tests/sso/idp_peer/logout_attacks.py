"""Forged single-logout messages, made from what an ordinary user of the IdP holds: a
signed assertion about themself, or a signed logout URL naming themself."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from urllib.parse import quote_plus

from lxml import etree

from tests.sso.idp_peer.bindings import deflate
from tests.sso.idp_peer.common import NS, now, saml_time


def logout_request_xml(
    *,
    issuer: str,
    destination: str,
    name_id: str,
    request_id: str | None = None,
    issue_instant: dt.datetime | None = None,
    not_on_or_after: dt.datetime | None = None,
) -> str:
    """An unsigned LogoutRequest as anyone can write it (the IdP's key, in a test, then
    signs it for the Redirect binding)."""
    expiry = f' NotOnOrAfter="{saml_time(not_on_or_after)}"' if not_on_or_after else ""
    return (
        f'<samlp:LogoutRequest xmlns:samlp="{NS["samlp"]}" xmlns:saml="{NS["saml"]}" '
        f'ID="{request_id or "_" + uuid.uuid4().hex}" Version="2.0" '
        f'IssueInstant="{saml_time(issue_instant or now())}"{expiry} '
        f'Destination="{destination}">'
        f"<saml:Issuer>{issuer}</saml:Issuer>"
        '<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">'
        f"{name_id}</saml:NameID></samlp:LogoutRequest>"
    )


def signature_transplant(
    signed_response: str,
    *,
    issuer: str,
    destination: str,
    victim: str,
    reuse_assertion_id: bool = False,
) -> str:
    """The HTTP-POST forgery: the signature of the attacker's own signed assertion is
    moved onto a self-written LogoutRequest naming victim, and the (now unsigned)
    assertion tucked into samlp:Extensions, where the signature's Reference still finds
    it by ID. With reuse_assertion_id the LogoutRequest takes the assertion's ID too,
    so that the Reference also "points at the root"."""
    response = etree.fromstring(signed_response.encode())
    assertion = response.find("saml:Assertion", NS)
    assert assertion is not None
    signature = assertion.find("ds:Signature", NS)
    assert signature is not None, "the assertion was not signed"
    assertion.remove(signature)
    request_id = assertion.get("ID") if reuse_assertion_id else None
    forged = logout_request_xml(
        issuer=issuer, destination=destination, name_id=victim, request_id=request_id
    )
    # Spliced in as text so that the assertion keeps its own namespace prefixes (lxml
    # would rename them to the new root's, and exclusive c14n renders prefixes).
    issuer_end = forged.index("</saml:Issuer>") + len("</saml:Issuer>")
    moved = (
        etree.tostring(signature).decode()
        + f"<samlp:Extensions>{etree.tostring(assertion).decode()}</samlp:Extensions>"
    )
    return forged[:issuer_end] + moved + forged[issuer_end:]


def post_fields(xml: str) -> dict[str, str]:
    return {"SAMLRequest": base64.b64encode(xml.encode()).decode()}


def smuggled_parameter(signed_url: str, forged_xml: str, *, name: str) -> str:
    """The HTTP-Redirect forgery: a genuinely signed logout URL with a second message
    appended under name (e.g. `SAML%52equest`, which Django decodes to SAMLRequest while
    a check over raw parts starting with `SAMLRequest=` never sees it)."""
    payload = quote_plus(base64.b64encode(deflate(forged_xml)).decode())
    return f"{signed_url}&{name}={payload}"
