"""The Redirect and POST bindings: encode, sign and read SAML messages in URLs and forms.

Redirect-binding signatures are made and checked with `cryptography` over the raw
query string, as SAML bindings §3.4.4.1 defines them, so the check does not depend on
either library's re-encoding."""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html import escape
from urllib.parse import parse_qsl, quote_plus, unquote_plus, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from tests.sso.idp_peer.common import HASHES, RSA_SHA256
from tests.sso.idp_peer.keys import KeyPair, certificate_from_b64


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
        signature = key.private_key().sign(signed, padding.PKCS1v15(), HASHES[sig_alg]())
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
    if "Signature" in raw and sig_alg in HASHES:
        signed = "&".join(
            f"{name}={raw[name]}" for name in (kind, "RelayState", "SigAlg") if name in raw
        ).encode()
        signature = base64.b64decode(unquote_plus(raw["Signature"]))
        for body in trusted_certs:
            public_key = certificate_from_b64(body).public_key()
            assert isinstance(public_key, rsa.RSAPublicKey)
            try:
                public_key.verify(signature, signed, padding.PKCS1v15(), HASHES[sig_alg]())
            except InvalidSignature:
                continue
            signed_by = body
            break
    relay = unquote_plus(raw["RelayState"]) if "RelayState" in raw else None
    return RedirectMessage(kind, xml, relay, sig_alg, signed_by, query)


def post_form(xml: str, relay_state: str | None = None) -> dict[str, str]:
    """The HTTP-POST binding form fields for a Response."""
    data = {"SAMLResponse": base64.b64encode(xml.encode()).decode()}
    if relay_state is not None:
        data["RelayState"] = relay_state
    return data


def post_form_html(action: str, fields: Mapping[str, str]) -> str:
    """The auto-submitting page an IdP returns to the browser."""
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
