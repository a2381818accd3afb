"""Every attack of SAML_SECURITY.md, made by post-processing a correctly signed
Response (XML text) with lxml. Each function returns the tampered text."""

from __future__ import annotations

import copy
import uuid
import zlib

from lxml import etree

from tests.sso.idp_peer.common import DS, NS

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


def in_response_to_on_envelope(xml: str, request_id: str) -> str:
    """An unsolicited (IdP-initiated) response relabelled as solicited: InResponseTo
    written on the unsigned Response element only; the signed assertion's
    SubjectConfirmationData names no request."""
    root = _parse(xml)
    assert root.find("ds:Signature", NS) is None, "the Response itself must be unsigned"
    root.set("InResponseTo", request_id)
    return _text(root)
