"""Shaping a pysaml2 Response into exactly the message a test asks for."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lxml import etree

from tests.sso.idp_peer.common import BASIC_NAME_FORMAT, NS, SAML, now, saml_time


def response_shape(
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
    """Set exactly what the tests control in a pysaml2 Response, whatever pysaml2
    defaulted: times, InResponseTo, Recipient, audience, issuer, status, SessionIndex and
    the attributes (exact names, basic name format)."""
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


@dataclass(frozen=True)
class OddShape:
    """Shapes a conformance suite tries, applied after `response_shape` and before
    signing (so the signature covers them). A field left at its default keeps the shape
    an ordinary IdP sends."""

    # The Response's own Issuer text only ("" = present but empty); the assertion's stays.
    response_issuer: str | None = None
    # Assertion Version (the Response's stays "2.0").
    assertion_version: str | None = None
    # SubjectConfirmation Method ("" = present but empty).
    confirmation_method: str | None = None
    # Another SubjectConfirmation with this Method, before the bearer one.
    extra_confirmation_method: str | None = None
    # InResponseTo of the SubjectConfirmationData only ("" removes it); the Response's
    # own InResponseTo stays as `in_response_to` made it.
    confirmation_in_response_to: str | None = None
    # False: no AudienceRestriction at all in the Conditions.
    audience_restriction: bool = True
    # Raw NotOnOrAfter text for the SubjectConfirmationData and the Conditions
    # ("" removes the attribute from both): absurd years, garbage.
    not_on_or_after: str | None = None
    # Raw IssueInstant text of the assertion.
    assertion_issue_instant: str | None = None


def response_oddities_apply(root: etree._Element, odd: OddShape) -> None:
    """Give a shaped Response the odd features `odd` asks for."""
    assertion = root.find("saml:Assertion", NS)
    assert assertion is not None
    if odd.response_issuer is not None:
        issuer = root.find("saml:Issuer", NS)
        assert issuer is not None
        issuer.text = odd.response_issuer
    if odd.assertion_version is not None:
        assertion.set("Version", odd.assertion_version)
    if odd.assertion_issue_instant is not None:
        assertion.set("IssueInstant", odd.assertion_issue_instant)
    _confirmations_apply(assertion, odd)
    conditions = assertion.find("saml:Conditions", NS)
    assert conditions is not None
    if not odd.audience_restriction:
        for restriction in conditions.findall("saml:AudienceRestriction", NS):
            conditions.remove(restriction)
    if odd.not_on_or_after is not None:
        timed = [conditions, *assertion.iterfind(".//saml:SubjectConfirmationData", NS)]
        for element in timed:
            if odd.not_on_or_after:
                element.set("NotOnOrAfter", odd.not_on_or_after)
            else:
                element.attrib.pop("NotOnOrAfter", None)


def _confirmations_apply(assertion: etree._Element, odd: OddShape) -> None:
    confirmations = assertion.findall("saml:Subject/saml:SubjectConfirmation", NS)
    for confirmation in confirmations:
        if odd.confirmation_method is not None:
            confirmation.set("Method", odd.confirmation_method)
        data = confirmation.find("saml:SubjectConfirmationData", NS)
        if data is not None and odd.confirmation_in_response_to is not None:
            if odd.confirmation_in_response_to:
                data.set("InResponseTo", odd.confirmation_in_response_to)
            else:
                data.attrib.pop("InResponseTo", None)
    if odd.extra_confirmation_method is not None:
        extra = etree.Element(SAML + "SubjectConfirmation", Method=odd.extra_confirmation_method)
        confirmations[0].addprevious(extra)
