"""The shape rules of sso.logout_inbound, case by case (the end-to-end attacks with real
IdP signatures are in test_e2e_logout_attacks.py)."""

from __future__ import annotations

import pytest
from lxml import etree

from sso.logout_inbound import redirect_query_parse, signed_root_check
from sso.refusals import SamlRefused

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"


def _signature(uri: str = "#_r", references: int = 1) -> str:
    refs = f'<ds:Reference URI="{uri}"/>' * references
    return f"<ds:Signature><ds:SignedInfo>{refs}</ds:SignedInfo></ds:Signature>"


def _request(body: str, root_id: str = "_r") -> etree._Element:
    return etree.fromstring(
        f'<samlp:LogoutRequest xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" xmlns:ds="{DS}" '
        f'ID="{root_id}"><saml:Issuer>idp</saml:Issuer>{body}'
        "<saml:NameID>ann@example.com</saml:NameID></samlp:LogoutRequest>"
    )


def test_a_signature_of_the_root_by_its_unique_id_passes():
    signed_root_check(_request(_signature()))


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("", "found 0"),
        (_signature() + _signature(), "found 2"),
        (
            "<samlp:Extensions><saml:Assertion ID='_a'>" + _signature("#_a") + "</saml:Assertion>"
            "</samlp:Extensions>",
            "found 1",
        ),
        (
            _signature() + "<samlp:Extensions>" + _signature("#_a") + "</samlp:Extensions>",
            "found 2",
        ),
        (_signature("#_a"), "not the message's ID"),
        (_signature(""), "not the message's ID"),
        (_signature(references=2), "not the message's ID"),
        (_signature() + "<samlp:Extensions><saml:Assertion ID='_r'/></samlp:Extensions>", "unique"),
        (_signature() + "<samlp:Extensions><x xml:id='_r'/></samlp:Extensions>", "unique"),
        (_signature() + "<samlp:Extensions><x Id='_r'/></samlp:Extensions>", "unique"),
    ],
    ids=[
        "unsigned",
        "two_signatures",
        "signature_not_on_the_root",
        "second_signature_in_extensions",
        "references_another_element",
        "references_the_whole_document",
        "two_references",
        "id_repeated_by_an_assertion",
        "id_repeated_as_xml_id",
        "id_repeated_as_Id",
    ],
)
def test_a_signature_that_may_sign_something_else_is_refused(body, why):
    with pytest.raises(SamlRefused) as refused:
        signed_root_check(_request(body))

    assert refused.value.reason == "signature"
    assert why in refused.value.message


def test_a_root_without_id_is_refused():
    root = _request(_signature("#"))
    del root.attrib["ID"]

    with pytest.raises(SamlRefused, match="not the message's ID"):
        signed_root_check(root)


def test_the_signed_string_is_rebuilt_from_raw_parts_in_binding_order():
    query = redirect_query_parse("Signature=s%2B&SigAlg=a%3Ab&RelayState=r+1&SAMLRequest=m%3D")

    assert query.saml_type == "SAMLRequest"
    assert query.signed_part == "SAMLRequest=m%3D&RelayState=r+1&SigAlg=a%3Ab"
    assert (query.message, query.relay_state) == ("m=", "r 1")


@pytest.mark.parametrize(
    ("query_string", "why"),
    [
        ("SAMLRequest=a&SAMLRequest=b", "repeats SAMLRequest"),
        ("SAMLRequest=a&SAML%52equest=b", "unexpected query parameter 'SAML%52equest'"),
        ("SAMLRequest=a&saml_request=b", "unexpected"),
        ("SAMLRequest", "unexpected"),
        ("SAMLRequest=a&SAMLResponse=b", "exactly one"),
        ("RelayState=r", "exactly one"),
        ("SAMLRequest=" + "a" * 40_000, "longer than"),
    ],
)
def test_a_query_that_could_mean_two_things_is_refused(query_string, why):
    with pytest.raises(SamlRefused) as refused:
        redirect_query_parse(query_string)

    assert refused.value.reason == "malformed"
    assert why in refused.value.message


def test_empty_query_segments_carry_nothing_and_are_skipped():
    assert redirect_query_parse("&SAMLRequest=a&&").raw == {"SAMLRequest": "a"}
