"""The checks python3-saml does loosely or not at all (SAML_SECURITY.md), on a document
that is not verified yet: signature shapes, exact URLs, and for a login Response its
status, issuers, versions, audience, bearer confirmation and times.

Checks on a not-yet-verified document may only ever refuse, never accept. They are
cheap (no cryptography), so they also guard what the ACS stores before the browser's
hop (sso.hop), and they run again on the decrypted document of an EncryptedAssertion.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from sso.refusals import RefusalReason, SamlRefused

ALLOWED_TRANSFORMS: Final = frozenset(
    {
        "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
        "http://www.w3.org/2001/10/xml-exc-c14n#",
    }
)
ALLOWED_C14N: Final = frozenset({"http://www.w3.org/2001/10/xml-exc-c14n#"})
NS: Final = C.NSMAP
ASSERTION_TAG: Final = f"{{{C.NS_SAML}}}Assertion"
ENCRYPTED_ASSERTION_TAG: Final = f"{{{C.NS_SAML}}}EncryptedAssertion"
SAML_VERSION: Final = "2.0"
# How long after its IssueInstant an assertion is accepted (plus the IdP's clock skew),
# whatever NotOnOrAfter it states: the browser posts it seconds after it is issued, and
# the replay cache then never has to keep an ID longer than this (sso.login).
ASSERTION_MAX_AGE: Final = 10 * 60


def signature_shape_check(root: etree._Element) -> None:
    """Only enveloped-signature and exclusive c14n in any signature: XSLT, XPath and
    other transforms can make a signature cover something other than what we read."""
    for signature in root.iter(f"{{{C.NS_DS}}}Signature"):
        for method in signature.iterfind("ds:SignedInfo/ds:CanonicalizationMethod", NS):
            if method.get("Algorithm") not in ALLOWED_C14N:
                raise SamlRefused(
                    RefusalReason.SIGNATURE,
                    f"canonicalization {method.get('Algorithm')!r} not allowed",
                )
        for transform in signature.iterfind(
            "ds:SignedInfo/ds:Reference/ds:Transforms/ds:Transform", NS
        ):
            if transform.get("Algorithm") not in ALLOWED_TRANSFORMS:
                raise SamlRefused(
                    RefusalReason.SIGNATURE,
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


def saml_time(value: str | None) -> int | None:
    """A SAML timestamp as Unix seconds, the way python3-saml reads it; garbage and
    years datetime cannot hold are `malformed` (a 4xx, never an overflow later)."""
    if not value:
        return None
    try:
        return int(OneLogin_Saml2_Utils.parse_SAML_to_time(value))
    except Exception as exc:
        raise SamlRefused(RefusalReason.MALFORMED, f"bad timestamp {value[:64]!r}") from exc


@dataclass(frozen=True)
class Expectations:
    """What this SP expects of a response, from its own configuration."""

    acs_url: str
    sp_entity_id: str
    idp_entity_id: str
    clock_skew: int
    now: int | None = None

    def moment(self) -> int:
        if self.now is not None:
            return self.now
        return calendar.timegm(dt.datetime.now(dt.UTC).utctimetuple())


def response_precheck(root: etree._Element, expect: Expectations) -> None:
    """Every check of ours on a login Response, with clear reasons. With an
    EncryptedAssertion, what is inside waits for the decrypted document, which gets
    this same precheck (sso.inbound)."""
    signature_shape_check(root)
    assertion = _the_assertion(root)
    if not _status_is_success(root):
        return  # python3-saml reports the IdP's failure status with its message
    _version_check(root, "Response")
    _response_issuer_check(root, assertion, expect.idp_entity_id)
    _signature_presence_check(root, assertion)
    destination = root.get("Destination")
    if destination is not None and not same_url(destination, expect.acs_url):
        raise SamlRefused(
            RefusalReason.DESTINATION, f"Destination {destination!r} is not {expect.acs_url!r}"
        )
    if assertion is not None and assertion.tag == ASSERTION_TAG:
        assertion_precheck(assertion, expect)


def assertion_precheck(assertion: etree._Element, expect: Expectations) -> None:
    """The plaintext assertion: version, issuer, age, conditions, bearer confirmation."""
    now, skew = expect.moment(), expect.clock_skew
    _version_check(assertion, "Assertion")
    issuer = assertion.findtext("saml:Issuer", None, NS)
    if issuer != expect.idp_entity_id:
        raise SamlRefused(
            RefusalReason.ISSUER, f"assertion Issuer {issuer!r} is not {expect.idp_entity_id!r}"
        )
    _issue_instant_check(assertion, now, skew)
    conditions = assertion.find("saml:Conditions", NS)
    if conditions is not None:
        _conditions_times_check(conditions, now, skew)
    _audience_check(conditions, expect.sp_entity_id)
    confirmations = bearer_confirmation_data(assertion)
    _confirmations_check(confirmations, expect.acs_url, now, skew)
    expiries = [conditions, *confirmations] if conditions is not None else confirmations
    if not any(element.get("NotOnOrAfter") for element in expiries):
        raise SamlRefused(
            RefusalReason.NO_EXPIRY,
            "the assertion states no NotOnOrAfter (in SubjectConfirmationData or Conditions)",
        )


def _the_assertion(root: etree._Element) -> etree._Element | None:
    found = root.findall(".//saml:Assertion", NS) + root.findall(".//saml:EncryptedAssertion", NS)
    if len(found) > 1:
        raise SamlRefused(RefusalReason.SIGNATURE, "more than one assertion (signature wrapping?)")
    return found[0] if found else None


def _status_is_success(root: etree._Element) -> bool:
    # python3-saml treats an empty StatusCode Value as success.
    code = root.find("samlp:Status/samlp:StatusCode", NS)
    value = code.get("Value") if code is not None else None
    if not value:
        raise SamlRefused(RefusalReason.MALFORMED, "the Response has no StatusCode Value")
    return value == C.STATUS_SUCCESS


def _version_check(element: etree._Element, name: str) -> None:
    # python3-saml checks the Response's Version only.
    if element.get("Version") != SAML_VERSION:
        raise SamlRefused(
            RefusalReason.MALFORMED, f"{name} Version {element.get('Version')!r} is not SAML 2.0"
        )


def _response_issuer_check(
    root: etree._Element, assertion: etree._Element | None, idp_entity_id: str
) -> None:
    """The Response's own Issuer, when present, is the IdP's; it must be present when
    the Response is signed or its assertion encrypted (SAML profiles §4.1.4.2), so the
    sender of an encrypted response is known before anything is decrypted or stored."""
    issuers = root.findall("saml:Issuer", NS)
    required = root.find("ds:Signature", NS) is not None or (
        assertion is not None and assertion.tag == ENCRYPTED_ASSERTION_TAG
    )
    if not issuers and not required:
        return
    values = [issuer.text for issuer in issuers]
    if values != [idp_entity_id]:
        # An empty Issuer is skipped by python3-saml's comparison.
        raise SamlRefused(
            RefusalReason.ISSUER, f"Response Issuer {values!r} is not {idp_entity_id!r}"
        )


def _signature_presence_check(root: etree._Element, assertion: etree._Element | None) -> None:
    if root.find("ds:Signature", NS) is not None:
        return
    if assertion is not None and assertion.tag == ENCRYPTED_ASSERTION_TAG:
        return  # the assertion's own signature is inside; checked once decrypted
    if assertion is None or assertion.find("ds:Signature", NS) is None:
        raise SamlRefused(RefusalReason.SIGNATURE, "no signature on the response or the assertion")


def _issue_instant_check(assertion: etree._Element, now: int, skew: int) -> None:
    issued = saml_time(assertion.get("IssueInstant"))
    if issued is None:
        raise SamlRefused(RefusalReason.MALFORMED, "the assertion has no IssueInstant")
    if issued > now + skew:
        raise SamlRefused(RefusalReason.NOT_YET_VALID, f"IssueInstant is {issued - now}s ahead")
    if issued + ASSERTION_MAX_AGE + skew <= now:
        raise SamlRefused(
            RefusalReason.EXPIRED,
            f"the assertion was issued {now - issued}s ago (at most {ASSERTION_MAX_AGE}s)",
        )


def _conditions_times_check(conditions: etree._Element, now: int, skew: int) -> None:
    not_before = saml_time(conditions.get("NotBefore"))
    not_on_or_after = saml_time(conditions.get("NotOnOrAfter"))
    if not_before is not None and not_before > now + skew:
        raise SamlRefused(
            RefusalReason.NOT_YET_VALID, f"Conditions NotBefore is {not_before - now}s ahead"
        )
    if not_on_or_after is not None and not_on_or_after + skew <= now:
        raise SamlRefused(RefusalReason.EXPIRED, f"Conditions expired {now - not_on_or_after}s ago")


def _audience_check(conditions: etree._Element | None, sp_entity_id: str) -> None:
    """A bearer assertion must name this SP (web SSO profile); python3-saml checks the
    audience only when there is one, and skips empty ones. Every AudienceRestriction
    must be met (SAML core §2.5.1.4)."""
    restrictions = [] if conditions is None else conditions.findall("saml:AudienceRestriction", NS)
    if not restrictions:
        raise SamlRefused(RefusalReason.AUDIENCE, "the assertion has no AudienceRestriction")
    for restriction in restrictions:
        audiences = [(a.text or "").strip() for a in restriction.findall("saml:Audience", NS)]
        if not audiences or not all(audiences):
            raise SamlRefused(
                RefusalReason.AUDIENCE, "an AudienceRestriction with an empty Audience"
            )
        if sp_entity_id not in audiences:
            raise SamlRefused(
                RefusalReason.AUDIENCE, f"{sp_entity_id!r} is not among {audiences!r}"
            )


def bearer_confirmation_data(assertion: etree._Element) -> list[etree._Element]:
    """The SubjectConfirmationData of the bearer confirmations: every confirmation has a
    method (python3-saml takes an empty one for bearer), and one is bearer."""
    confirmations = assertion.findall("saml:Subject/saml:SubjectConfirmation", NS)
    methods = [confirmation.get("Method") for confirmation in confirmations]
    if not all(methods):
        raise SamlRefused(
            RefusalReason.SUBJECT_CONFIRMATION, "a SubjectConfirmation without a Method"
        )
    bearer = [c for c in confirmations if c.get("Method") == C.CM_BEARER]
    if not bearer:
        raise SamlRefused(
            RefusalReason.SUBJECT_CONFIRMATION,
            f"no bearer SubjectConfirmation (methods {methods!r})",
        )
    return [
        data
        for confirmation in bearer
        if (data := confirmation.find("saml:SubjectConfirmationData", NS)) is not None
    ]


def _confirmations_check(
    confirmations: list[etree._Element], acs_url: str, now: int, skew: int
) -> None:
    # The SAML web SSO profile requires a Recipient on bearer confirmations; python3-saml
    # accepts its absence, and a prefix of our URL.
    recipients = [c.get("Recipient") for c in confirmations]
    if not any(r is not None and same_url(r, acs_url) for r in recipients):
        raise SamlRefused(
            RefusalReason.RECIPIENT,
            f"Recipient {recipients[0] if recipients else None!r} is not {acs_url!r}",
        )
    if all(_ended(c, now) for c in confirmations):
        raise SamlRefused(RefusalReason.EXPIRED, "SubjectConfirmationData NotOnOrAfter has passed")
    if all(_not_begun(c, now + skew) for c in confirmations):
        raise SamlRefused(RefusalReason.NOT_YET_VALID, "SubjectConfirmationData NotBefore is ahead")


def _ended(confirmation: etree._Element, now: int) -> bool:
    end = saml_time(confirmation.get("NotOnOrAfter"))
    return end is not None and end <= now


def _not_begun(confirmation: etree._Element, latest: int) -> bool:
    begin = saml_time(confirmation.get("NotBefore"))
    return begin is not None and begin > latest
