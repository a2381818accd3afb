"""Reading what an IdP sends: decoding with size caps, our prechecks (sso.prechecks),
python3-saml's own strict validation, and the mapping of every failure to a refusal
reason.

Checks on the not-yet-verified document may only ever refuse, never accept; every
value we act on is read from the verified document the way python3-saml reads it.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.errors import OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from sso.prechecks import (
    ASSERTION_MAX_AGE,
    NS,
    Expectations,
    bearer_confirmation_data,
    response_precheck,
    saml_time,
)

# Also the checks of logout messages (sso.logout imports them from here).
from sso.prechecks import same_url as same_url
from sso.prechecks import signature_shape_check as signature_shape_check
from sso.refusals import RefusalReason, SamlRefused, reason_for_validation_error

# A real response is a few KiB; OneLogin's largest with hundreds of roles stays < 100 KiB.
MAX_POST_BYTES: Final = 512 * 1024
MAX_REDIRECT_QUERY_BYTES: Final = 16 * 1024
MAX_INFLATED_BYTES: Final = 256 * 1024

RESPONSE_TAG: Final = f"{{{C.NS_SAMLP}}}Response"


def b64_decode_strict(value: str, *, limit: int = MAX_POST_BYTES) -> bytes:
    """Base64 text (line breaks allowed) to bytes, or a `malformed` refusal."""
    if len(value) > limit * 4 // 3 + 1024:
        raise SamlRefused(RefusalReason.MALFORMED, f"message larger than {limit} bytes")
    compact = "".join(value.split())
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SamlRefused(RefusalReason.MALFORMED, f"not base64: {exc}") from exc


def inflate_capped(data: bytes, *, limit: int = MAX_INFLATED_BYTES) -> bytes:
    """Raw DEFLATE (Redirect binding) with a cap on the inflated size (deflate bombs)."""
    inflater = zlib.decompressobj(-15)
    try:
        out = inflater.decompress(data, limit)
    except zlib.error as exc:
        raise SamlRefused(RefusalReason.MALFORMED, f"not DEFLATE data: {exc}") from exc
    if inflater.unconsumed_tail:
        raise SamlRefused(RefusalReason.MALFORMED, f"inflates to more than {limit} bytes")
    return out


def xml_parse(data: bytes, *, root_tag: str, allow_comments: bool = False) -> etree._Element:
    """Parse with python3-saml's hardened parser (no DTD, no entities, no network)."""
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise SamlRefused(RefusalReason.MALFORMED, "DOCTYPE or entity declaration in the message")
    if not allow_comments and b"<!--" in data:
        # Comments inside signed text are the classic NameID truncation trick
        # (exclusive c14n drops them, so the signature stays valid). The parser removes
        # them before we could look, so the raw bytes are checked; IdPs send none.
        raise SamlRefused(RefusalReason.MALFORMED, "XML comment inside the message")
    try:
        root = OneLogin_Saml2_XML.to_etree(data)
    except Exception as exc:
        raise SamlRefused(RefusalReason.MALFORMED, f"not XML: {type(exc).__name__}: {exc}") from exc
    if root.tag != root_tag:
        raise SamlRefused(RefusalReason.MALFORMED, f"expected {root_tag}, got {root.tag}")
    return root


@dataclass(frozen=True)
class Decoded:
    """A SAMLResponse decoded (b64_decode_strict) and parsed (xml_parse) once: the ACS
    POST reads it to choose the transport, and validation goes on from the same bytes
    and tree instead of decoding and parsing them again."""

    raw: bytes
    root: etree._Element


def response_decode(saml_response: str) -> Decoded:
    raw = b64_decode_strict(saml_response)
    return Decoded(raw=raw, root=xml_parse(raw, root_tag=RESPONSE_TAG))


TRANSIENT: Final = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
MAX_NAME_ID: Final = 1024


def nameid_usable_check(name_id: str | None, name_id_format: str) -> None:
    """A NameID we can find the person by again: present, not transient (a new value
    at every login would create a new account every time), of a sane length."""
    if not name_id or not name_id.strip():
        raise SamlRefused(RefusalReason.NO_NAMEID, "no NameID in the assertion")
    if name_id_format == TRANSIENT:
        raise SamlRefused(
            RefusalReason.NO_NAMEID,
            "a transient NameID cannot identify a person across logins; configure the IdP "
            "to send an email, persistent or unspecified NameID",
        )
    if len(name_id) > MAX_NAME_ID:
        raise SamlRefused(RefusalReason.NO_NAMEID, f"NameID longer than {MAX_NAME_ID} characters")


@dataclass(frozen=True)
class ValidLogin:
    """What a verified response says, read the way python3-saml reads it."""

    name_id: str
    name_id_format: str
    session_index: str
    attributes: dict[str, list[Any]]
    assertion_id: str
    in_response_to: str | None
    # The last moment (Unix seconds, before the IdP's clock skew) the assertion could be
    # accepted: its latest NotOnOrAfter, never past IssueInstant + ASSERTION_MAX_AGE.
    accepted_until: int


def _validate_with_python3_saml(
    response: OneLogin_Saml2_Response, request_data: dict[str, Any]
) -> None:
    try:
        # Checked as well as caught: a False without an exception must never pass.
        valid = response.is_valid(request_data, raise_exceptions=True)
    except OneLogin_Saml2_ValidationError as exc:
        raise SamlRefused(reason_for_validation_error(exc.code), str(exc)) from exc
    except OneLogin_Saml2_Error as exc:
        raise SamlRefused(RefusalReason.VALIDATION, str(exc)) from exc
    except SamlRefused:
        raise
    except Exception as exc:  # python3-saml lets lxml/xmlsec errors escape as they are
        raise SamlRefused(RefusalReason.VALIDATION, f"{type(exc).__name__}: {exc}") from exc
    if valid is not True:
        raise SamlRefused(
            RefusalReason.VALIDATION, response.get_error() or "python3-saml refused the response"
        )


def _python3_saml_response(
    settings_obj: Any, raw: bytes, root: etree._Element, fallbacks: Sequence[Any] = ()
) -> OneLogin_Saml2_Response:
    """python3-saml's Response; it decrypts an EncryptedAssertion with the SP's key (the
    newest, then the other active ones: an IdP may encrypt for either during a rollover)."""
    encoded = base64.b64encode(raw)
    try:
        return OneLogin_Saml2_Response(settings_obj, encoded)
    except Exception as exc:
        if root.find("saml:EncryptedAssertion", NS) is None:
            raise SamlRefused(RefusalReason.MALFORMED, f"{type(exc).__name__}: {exc}") from exc
        for fallback in fallbacks:
            try:
                return OneLogin_Saml2_Response(fallback, encoded)
            except Exception:  # noqa: S112 - the next key may open it; refused below if none
                continue
        raise SamlRefused(
            RefusalReason.DECRYPTION,
            f"the EncryptedAssertion could not be decrypted with any of this SP's "
            f"{1 + len(fallbacks)} active key(s) (is the IdP encrypting for another "
            f"certificate?): {type(exc).__name__}: {exc}",
        ) from exc


def decrypted_precheck(decrypted: etree._Element, expect: Expectations) -> None:
    """An encrypted assertion gets every check a plaintext one gets (python3-saml itself
    applies only its looser ones to it), the raw-bytes ones included: the decrypted
    text never went through xml_parse."""
    # (python3-saml's element class hides comments from iter(); XPath still sees them.)
    if decrypted.xpath("//comment() | //processing-instruction()"):
        raise SamlRefused(
            RefusalReason.MALFORMED,
            "an XML comment or processing instruction in the encrypted assertion",
        )
    if decrypted.find("saml:Assertion", NS) is None:
        raise SamlRefused(RefusalReason.MALFORMED, "the EncryptedAssertion holds no Assertion")
    response_precheck(decrypted, expect)


def login_response_validate(
    decoded: Decoded,
    *,
    settings_obj: Any,
    request_data: dict[str, Any],
    expect: Expectations,
    decrypt_fallbacks: Sequence[Any] = (),
) -> ValidLogin:
    """Pre-check and strictly validate a decoded SAMLResponse (HTTP-POST binding)."""
    raw, root = decoded.raw, decoded.root
    response_precheck(root, expect)
    response = _python3_saml_response(settings_obj, raw, root, decrypt_fallbacks)
    if response.encrypted:
        decrypted_precheck(response.decrypted_document, expect)
    _validate_with_python3_saml(response, request_data)
    try:
        name_id_data = response.get_nameid_data()
        attributes = response.get_attributes()
        assertion_id = response.get_assertion_id()
        session_index = response.get_session_index() or ""
    except OneLogin_Saml2_ValidationError as exc:
        raise SamlRefused(reason_for_validation_error(exc.code), str(exc)) from exc
    name_id = name_id_data.get("Value")
    nameid_usable_check(name_id, name_id_data.get("Format", ""))
    if not assertion_id:
        raise SamlRefused(RefusalReason.MALFORMED, "the assertion has no ID")
    # The assertion python3-saml verified (the signed one, decrypted if it was encrypted).
    assertion = response._query_assertion("")[0]
    return ValidLogin(
        name_id=name_id,
        name_id_format=name_id_data.get("Format", ""),
        session_index=session_index,
        attributes=attributes,
        assertion_id=assertion_id,
        in_response_to=_signed_in_response_to(response, assertion, expect.acs_url),
        accepted_until=_accepted_until(assertion),
    )


def _signed_in_response_to(
    response: OneLogin_Saml2_Response, assertion: etree._Element, acs_url: str
) -> str | None:
    """The InResponseTo a signature vouches for. The Response element's own counts only
    when the Response is signed; otherwise only the signed assertion's bearer
    confirmation for our ACS can say which request it answers, and an envelope value
    without it makes an unsolicited assertion look solicited."""
    envelope = response.get_in_response_to() or None
    named = _confirmed_in_response_to(assertion, acs_url)
    if len(named) > 1 or (envelope and named and named != {envelope}):
        raise SamlRefused(
            RefusalReason.IN_RESPONSE_TO_UNKNOWN,
            f"the response names different requests: {sorted({*named, envelope or ''})!r}",
        )
    if named:
        return named.pop()
    response_signed = response.document.find("ds:Signature", NS) is not None
    return envelope if response_signed else None


def _confirmed_in_response_to(assertion: etree._Element, acs_url: str) -> set[str]:
    """The InResponseTo values of the assertion's bearer confirmations for our ACS."""
    named: set[str] = set()
    for data in bearer_confirmation_data(assertion):
        value = data.get("InResponseTo")
        if value and same_url(data.get("Recipient") or "", acs_url):
            named.add(value)
    return named


def _accepted_until(assertion: etree._Element) -> int:
    # The prechecks made sure at least one NotOnOrAfter and the IssueInstant are there.
    ends = [
        saml_time(element.get("NotOnOrAfter"))
        for element in [
            *assertion.findall("saml:Conditions", NS),
            *bearer_confirmation_data(assertion),
        ]
    ]
    issued = saml_time(assertion.get("IssueInstant")) or 0
    return min(max(end for end in ends if end is not None), issued + ASSERTION_MAX_AGE)


def redirect_message_decode(value: str) -> bytes:
    """A Redirect-binding SAMLRequest/SAMLResponse: capped query, capped inflate."""
    if len(value) > MAX_REDIRECT_QUERY_BYTES:
        raise SamlRefused(
            RefusalReason.MALFORMED, f"query parameter longer than {MAX_REDIRECT_QUERY_BYTES}"
        )
    return inflate_capped(b64_decode_strict(value, limit=MAX_REDIRECT_QUERY_BYTES))
