"""Reading what an IdP sends: decoding with size caps, the checks python3-saml leaves
to us (SAML_SECURITY.md), python3-saml's own strict validation, and the mapping of
every failure to a refusal reason.

Checks on the not-yet-verified document may only ever refuse, never accept; every
value we act on is read from the verified document the way python3-saml reads it.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import datetime as dt
import zlib
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.errors import OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from sso import refusals
from sso.refusals import SamlRefused

# A real response is a few KiB; OneLogin's largest with hundreds of roles stays < 100 KiB.
MAX_POST_BYTES: Final = 512 * 1024
MAX_REDIRECT_QUERY_BYTES: Final = 16 * 1024
MAX_INFLATED_BYTES: Final = 256 * 1024

ALLOWED_TRANSFORMS: Final = frozenset(
    {
        "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
        "http://www.w3.org/2001/10/xml-exc-c14n#",
    }
)
ALLOWED_C14N: Final = frozenset({"http://www.w3.org/2001/10/xml-exc-c14n#"})
NS: Final = C.NSMAP
RESPONSE_TAG: Final = f"{{{C.NS_SAMLP}}}Response"


def b64_decode_strict(value: str, *, limit: int = MAX_POST_BYTES) -> bytes:
    """Base64 text (line breaks allowed) to bytes, or a `malformed` refusal."""
    if len(value) > limit * 4 // 3 + 1024:
        raise SamlRefused(refusals.MALFORMED, f"message larger than {limit} bytes")
    compact = "".join(value.split())
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SamlRefused(refusals.MALFORMED, f"not base64: {exc}") from exc


def inflate_capped(data: bytes, *, limit: int = MAX_INFLATED_BYTES) -> bytes:
    """Raw DEFLATE (Redirect binding) with a cap on the inflated size (deflate bombs)."""
    inflater = zlib.decompressobj(-15)
    try:
        out = inflater.decompress(data, limit)
    except zlib.error as exc:
        raise SamlRefused(refusals.MALFORMED, f"not DEFLATE data: {exc}") from exc
    if inflater.unconsumed_tail:
        raise SamlRefused(refusals.MALFORMED, f"inflates to more than {limit} bytes")
    return out


def xml_parse(data: bytes, *, root_tag: str, allow_comments: bool = False) -> etree._Element:
    """Parse with python3-saml's hardened parser (no DTD, no entities, no network)."""
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise SamlRefused(refusals.MALFORMED, "DOCTYPE or entity declaration in the message")
    if not allow_comments and b"<!--" in data:
        # Comments inside signed text are the classic NameID truncation trick
        # (exclusive c14n drops them, so the signature stays valid). The parser removes
        # them before we could look, so the raw bytes are checked; IdPs send none.
        raise SamlRefused(refusals.MALFORMED, "XML comment inside the message")
    try:
        root = OneLogin_Saml2_XML.to_etree(data)
    except Exception as exc:
        raise SamlRefused(refusals.MALFORMED, f"not XML: {type(exc).__name__}: {exc}") from exc
    if root.tag != root_tag:
        raise SamlRefused(refusals.MALFORMED, f"expected {root_tag}, got {root.tag}")
    return root


def signature_shape_check(root: etree._Element) -> None:
    """Only enveloped-signature and exclusive c14n in any signature: XSLT, XPath and
    other transforms can make a signature cover something other than what we read."""
    for signature in root.iter(f"{{{C.NS_DS}}}Signature"):
        for method in signature.iterfind("ds:SignedInfo/ds:CanonicalizationMethod", NS):
            if method.get("Algorithm") not in ALLOWED_C14N:
                raise SamlRefused(
                    refusals.SIGNATURE, f"canonicalization {method.get('Algorithm')!r} not allowed"
                )
        for transform in signature.iterfind(
            "ds:SignedInfo/ds:Reference/ds:Transforms/ds:Transform", NS
        ):
            if transform.get("Algorithm") not in ALLOWED_TRANSFORMS:
                raise SamlRefused(
                    refusals.SIGNATURE,
                    f"signature transform {transform.get('Algorithm')!r} not allowed",
                )


def same_url(received: str, ours: str) -> bool:
    """Exact comparison (python3-saml only checks a prefix, so ACS + "other/" would
    pass): only the scheme and host are compared case-insensitively, as URLs define."""
    a, b = urlsplit(received), urlsplit(ours)
    return (a.scheme.lower(), a.netloc.lower(), a.path, a.query, a.fragment) == (
        b.scheme.lower(),
        b.netloc.lower(),
        b.path,
        b.query,
        b.fragment,
    )


def _time(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(OneLogin_Saml2_Utils.parse_SAML_to_time(value))
    except Exception as exc:
        raise SamlRefused(refusals.MALFORMED, f"bad timestamp {value!r}") from exc


@dataclass(frozen=True)
class Expectations:
    """What this SP expects of a response, from its own configuration."""

    acs_url: str
    clock_skew: int
    now: int | None = None


def _bearer_confirmations(assertion: etree._Element) -> list[etree._Element]:
    found = []
    for confirmation in assertion.iterfind("saml:Subject/saml:SubjectConfirmation", NS):
        method = confirmation.get("Method")
        if method and method != C.CM_BEARER:
            continue
        data = confirmation.find("saml:SubjectConfirmationData", NS)
        if data is not None:
            found.append(data)
    return found


def response_precheck(root: etree._Element, expect: Expectations) -> None:
    """The checks python3-saml does loosely or not at all, with clear reasons."""
    now = (
        expect.now
        if expect.now is not None
        else calendar.timegm(dt.datetime.now(dt.UTC).utctimetuple())
    )
    skew = expect.clock_skew
    signature_shape_check(root)
    assertions = root.findall(".//saml:Assertion", NS)
    if len(assertions) + len(root.findall(".//saml:EncryptedAssertion", NS)) > 1:
        raise SamlRefused(refusals.SIGNATURE, "more than one assertion (signature wrapping?)")
    signed = root.find("ds:Signature", NS) is not None or any(
        a.find("ds:Signature", NS) is not None for a in assertions
    )
    status = root.find("samlp:Status/samlp:StatusCode", NS)
    if status is not None and status.get("Value") not in (None, C.STATUS_SUCCESS):
        return  # python3-saml reports the IdP's failure status with its message
    if not signed:
        raise SamlRefused(refusals.SIGNATURE, "no signature on the response or the assertion")
    destination = root.get("Destination")
    if destination is not None and not same_url(destination, expect.acs_url):
        raise SamlRefused(
            refusals.DESTINATION, f"Destination {destination!r} is not {expect.acs_url!r}"
        )
    if not assertions:
        return
    assertion = assertions[0]
    conditions = assertion.find("saml:Conditions", NS)
    if conditions is not None:
        not_before = _time(conditions.get("NotBefore"))
        not_on_or_after = _time(conditions.get("NotOnOrAfter"))
        if not_before is not None and not_before > now + skew:
            raise SamlRefused(
                refusals.NOT_YET_VALID, f"Conditions NotBefore is {not_before - now}s ahead"
            )
        if not_on_or_after is not None and not_on_or_after + skew <= now:
            raise SamlRefused(refusals.EXPIRED, f"Conditions expired {now - not_on_or_after}s ago")
    confirmations = _bearer_confirmations(assertion)
    if not confirmations:
        return  # python3-saml refuses: no valid SubjectConfirmation
    # The SAML web SSO profile requires a Recipient on bearer confirmations; python3-saml
    # accepts its absence, and a prefix of our URL.
    recipients = [c.get("Recipient") for c in confirmations]
    if not any(r is not None and same_url(r, expect.acs_url) for r in recipients):
        raise SamlRefused(
            refusals.RECIPIENT, f"Recipient {recipients[0]!r} is not {expect.acs_url!r}"
        )
    if all((t := _time(c.get("NotOnOrAfter"))) is not None and t <= now for c in confirmations):
        raise SamlRefused(refusals.EXPIRED, "SubjectConfirmationData NotOnOrAfter has passed")
    if all((t := _time(c.get("NotBefore"))) is not None and t > now + skew for c in confirmations):
        raise SamlRefused(refusals.NOT_YET_VALID, "SubjectConfirmationData NotBefore is ahead")


TRANSIENT: Final = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
MAX_NAME_ID: Final = 1024


def nameid_usable_check(name_id: str | None, name_id_format: str) -> None:
    """A NameID we can find the person by again: present, not transient (a new value
    at every login would create a new account every time), of a sane length."""
    if not name_id or not name_id.strip():
        raise SamlRefused(refusals.NO_NAMEID, "no NameID in the assertion")
    if name_id_format == TRANSIENT:
        raise SamlRefused(
            refusals.NO_NAMEID,
            "a transient NameID cannot identify a person across logins; configure the IdP "
            "to send an email, persistent or unspecified NameID",
        )
    if len(name_id) > MAX_NAME_ID:
        raise SamlRefused(refusals.NO_NAMEID, f"NameID longer than {MAX_NAME_ID} characters")


@dataclass(frozen=True)
class ValidLogin:
    """What a verified response says, read the way python3-saml reads it."""

    name_id: str
    name_id_format: str
    session_index: str
    attributes: dict[str, list[Any]]
    assertion_id: str
    in_response_to: str | None
    not_on_or_after: int | None


def _validate_with_python3_saml(
    response: OneLogin_Saml2_Response, request_data: dict[str, Any]
) -> None:
    try:
        # Checked as well as caught: a False without an exception must never pass.
        valid = response.is_valid(request_data, raise_exceptions=True)
    except OneLogin_Saml2_ValidationError as exc:
        raise SamlRefused(refusals.reason_for_validation_error(exc.code), str(exc)) from exc
    except OneLogin_Saml2_Error as exc:
        raise SamlRefused(refusals.VALIDATION, str(exc)) from exc
    except SamlRefused:
        raise
    except Exception as exc:  # python3-saml lets lxml/xmlsec errors escape as they are
        raise SamlRefused(refusals.VALIDATION, f"{type(exc).__name__}: {exc}") from exc
    if valid is not True:
        raise SamlRefused(
            refusals.VALIDATION, response.get_error() or "python3-saml refused the response"
        )


def login_response_validate(
    saml_response: str, *, settings_obj: Any, request_data: dict[str, Any], expect: Expectations
) -> ValidLogin:
    """Decode, pre-check and strictly validate a SAMLResponse (HTTP-POST binding)."""
    raw = b64_decode_strict(saml_response)
    root = xml_parse(raw, root_tag=RESPONSE_TAG)
    response_precheck(root, expect)
    try:
        response = OneLogin_Saml2_Response(settings_obj, base64.b64encode(raw))
    except Exception as exc:
        raise SamlRefused(refusals.MALFORMED, f"{type(exc).__name__}: {exc}") from exc
    _validate_with_python3_saml(response, request_data)
    try:
        name_id_data = response.get_nameid_data()
        attributes = response.get_attributes()
        assertion_id = response.get_assertion_id()
        session_index = response.get_session_index() or ""
    except OneLogin_Saml2_ValidationError as exc:
        raise SamlRefused(refusals.reason_for_validation_error(exc.code), str(exc)) from exc
    name_id = name_id_data.get("Value")
    nameid_usable_check(name_id, name_id_data.get("Format", ""))
    if not assertion_id:
        raise SamlRefused(refusals.MALFORMED, "the assertion has no ID")
    not_on_or_after = response.get_assertion_not_on_or_after()
    conditions = response._query_assertion("/saml:Conditions")
    if conditions and conditions[0].get("NotOnOrAfter"):
        cond_limit = _time(conditions[0].get("NotOnOrAfter"))
        if cond_limit is not None:
            not_on_or_after = max(not_on_or_after or 0, cond_limit)
    in_response_to = response.get_in_response_to()
    if not in_response_to:
        # The Response element may be unsigned; the signed assertion's confirmation
        # may still name our request, and then it must match it.
        for data in response._query_assertion(
            "/saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData"
        ):
            in_response_to = in_response_to or data.get("InResponseTo")
    return ValidLogin(
        name_id=name_id,
        name_id_format=name_id_data.get("Format", ""),
        session_index=session_index,
        attributes=attributes,
        assertion_id=assertion_id,
        in_response_to=in_response_to or None,
        not_on_or_after=int(not_on_or_after) if not_on_or_after else None,
    )


def redirect_message_decode(value: str) -> bytes:
    """A Redirect-binding SAMLRequest/SAMLResponse: capped query, capped inflate."""
    if len(value) > MAX_REDIRECT_QUERY_BYTES:
        raise SamlRefused(
            refusals.MALFORMED, f"query parameter longer than {MAX_REDIRECT_QUERY_BYTES}"
        )
    return inflate_capped(b64_decode_strict(value, limit=MAX_REDIRECT_QUERY_BYTES))
