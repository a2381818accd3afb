"""Shaping a pysaml2 Response into exactly the message a test asks for."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

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
