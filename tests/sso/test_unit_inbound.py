"""The checks python3-saml leaves to us, on hand-made documents (no signatures needed:
each check refuses before any signature would be verified)."""

from __future__ import annotations

import base64
import zlib

import pytest

from sso.inbound import (
    Expectations,
    b64_decode_strict,
    inflate_capped,
    nameid_usable_check,
    redirect_message_decode,
    response_precheck,
    signature_shape_check,
    xml_parse,
)
from sso.refusals import SamlRefused

ACS = "https://sp.example.com/sso/onelogin/acs/"
SP = "https://sp.example.com/sso/onelogin/metadata/"
IDP = "https://idp.example.com/md"
NOW = 1_800_000_000
RESPONSE_TAG = "{urn:oasis:names:tc:SAML:2.0:protocol}Response"


def _time(offset: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(NOW + offset, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def response_xml(
    *,
    destination: str | None = ACS,
    recipient: str | None = ACS,
    not_before: int = -60,
    not_on_or_after: int = 300,
    scd_not_on_or_after: int = 300,
    signed: bool = True,
    assertions: int = 1,
    transform: str = "http://www.w3.org/2001/10/xml-exc-c14n#",
) -> bytes:
    signature = (
        '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
        '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
        '<ds:Reference URI="#a1"><ds:Transforms>'
        '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
        f'<ds:Transform Algorithm="{transform}"/>'
        "</ds:Transforms></ds:Reference></ds:SignedInfo></ds:Signature>"
        if signed
        else ""
    )
    recipient_attr = f' Recipient="{recipient}"' if recipient is not None else ""
    assertion = (
        f'<saml:Assertion ID="a1" Version="2.0" IssueInstant="{_time(0)}">'
        f"<saml:Issuer>{IDP}</saml:Issuer>"
        f"{signature}"
        "<saml:Subject><saml:NameID>ann@example.com</saml:NameID>"
        '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
        f'<saml:SubjectConfirmationData{recipient_attr} NotOnOrAfter="{_time(scd_not_on_or_after)}"/>'
        "</saml:SubjectConfirmation></saml:Subject>"
        f'<saml:Conditions NotBefore="{_time(not_before)}" NotOnOrAfter="{_time(not_on_or_after)}">'
        f"<saml:AudienceRestriction><saml:Audience>{SP}</saml:Audience></saml:AudienceRestriction>"
        "</saml:Conditions>"
        "</saml:Assertion>"
    )
    dest = f' Destination="{destination}"' if destination is not None else ""
    return (
        '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="r1" Version="2.0"{dest}>'
        '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
        f"{assertion * assertions}</samlp:Response>"
    ).encode()


def precheck(xml: bytes, skew: int = 120) -> None:
    response_precheck(
        xml_parse(xml, root_tag=RESPONSE_TAG), Expectations(ACS, SP, IDP, skew, now=NOW)
    )


def refused(call, *args, **kwargs) -> SamlRefused:
    with pytest.raises(SamlRefused) as caught:
        call(*args, **kwargs)
    return caught.value


def test_a_well_addressed_current_response_passes_the_prechecks():
    precheck(response_xml())


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"destination": ACS + "other/"}, "destination"),
        ({"destination": ACS.upper()}, "destination"),
        ({"destination": ACS[:-1]}, "destination"),
        ({"destination": ACS + "?x=1"}, "destination"),
        ({"recipient": ACS + "other/"}, "recipient"),
        ({"recipient": None}, "recipient"),
        ({"not_on_or_after": -121, "scd_not_on_or_after": 300}, "expired"),
        ({"scd_not_on_or_after": -1}, "expired"),
        ({"not_before": 121}, "not_yet_valid"),
        ({"signed": False}, "signature"),
        ({"assertions": 2}, "signature"),
        ({"transform": "http://www.w3.org/TR/1999/REC-xslt-19991116"}, "signature"),
    ],
)
def test_precheck_refusals(kwargs, reason):
    assert refused(precheck, response_xml(**kwargs)).reason == reason


def test_clock_skew_tolerates_small_drift():
    precheck(response_xml(not_on_or_after=-100, not_before=100), skew=120)


def test_scheme_and_host_compare_case_insensitively():
    precheck(response_xml(destination="HTTPS://SP.Example.com/sso/onelogin/acs/"))


def test_missing_destination_is_left_to_python3_saml():
    precheck(response_xml(destination=None))


@pytest.mark.parametrize(
    "xml",
    [
        b'<!DOCTYPE r [<!ENTITY x "y">]><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>',
        b"<samlp:Response xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol'><!-- x --></samlp:Response>",
        b"not xml at all",
        b"<other/>",
    ],
    ids=["doctype", "comment", "not_xml", "wrong_root"],
)
def test_xml_parse_refuses_as_malformed(xml):
    assert refused(xml_parse, xml, root_tag=RESPONSE_TAG).reason == "malformed"


def test_signature_shape_allows_the_standard_transforms():
    signature_shape_check(xml_parse(response_xml(), root_tag=RESPONSE_TAG))


@pytest.mark.parametrize("value", ["%%%garbage", "QUJD=QUJD", "A" * 5])
def test_b64_decode_strict_refuses_garbage(value):
    assert refused(b64_decode_strict, value).reason == "malformed"


def test_b64_decode_accepts_line_breaks():
    assert b64_decode_strict("QUJD\nREVG") == b"ABCDEF"


def test_inflate_capped_stops_a_deflate_bomb():
    bomb = zlib.compress(b"\0" * 20_000_000)[2:-4]

    error = refused(inflate_capped, bomb)

    assert (error.reason, error.message) == ("malformed", "inflates to more than 262144 bytes")


def test_redirect_message_decode_round_trips_and_caps_the_query():
    encoded = base64.b64encode(zlib.compress(b"<x/>")[2:-4]).decode()

    assert redirect_message_decode(encoded) == b"<x/>"
    assert refused(redirect_message_decode, "A" * 20_000).reason == "malformed"


@pytest.mark.parametrize(
    ("name_id", "name_id_format", "message"),
    [
        (None, "", "no NameID in the assertion"),
        ("  ", "", "no NameID in the assertion"),
        (
            "_a7f3",
            "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
            "a transient NameID cannot identify a person across logins; configure the IdP "
            "to send an email, persistent or unspecified NameID",
        ),
        ("x" * 1025, "", "NameID longer than 1024 characters"),
    ],
)
def test_unusable_nameids_are_refused(name_id, name_id_format, message):
    error = refused(nameid_usable_check, name_id, name_id_format)

    assert (error.reason, error.message) == ("no_nameid", message)


def test_email_and_persistent_nameids_are_usable():
    nameid_usable_check("ann@example.com", "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")
    nameid_usable_check("00u1abc", "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent")


def _reshaped(old: str, new: str) -> bytes:
    xml = response_xml()
    assert old.encode() in xml
    return xml.replace(old.encode(), new.encode(), 1)


AUDIENCE = (
    f"<saml:AudienceRestriction><saml:Audience>{SP}</saml:Audience></saml:AudienceRestriction>"
)


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        # Every AudienceRestriction must be met (SAML core 2.5.1.4), not just one of them.
        (
            AUDIENCE,
            AUDIENCE + "<saml:AudienceRestriction><saml:Audience>https://other.example/sp"
            "</saml:Audience></saml:AudienceRestriction>",
            "audience",
        ),
        (AUDIENCE, "<saml:AudienceRestriction/>", "audience"),
        ("<samlp:Status>", f"<saml:Issuer>{IDP}x</saml:Issuer><samlp:Status>", "issuer"),
        ("<samlp:Status>", "<saml:Issuer/><samlp:Status>", "issuer"),
        (f"<saml:Issuer>{IDP}</saml:Issuer>", "", "issuer"),
        ('ID="a1" Version="2.0"', 'ID="a1" Version="2.0 "', "malformed"),
        (
            f'IssueInstant="{_time(0)}"',
            f'IssueInstant="{_time(-601 - 120)}"',
            "expired",
        ),
        (f'IssueInstant="{_time(0)}"', f'IssueInstant="{_time(121)}"', "not_yet_valid"),
        (f'IssueInstant="{_time(0)}"', 'IssueInstant="9999-99-99T00:00:00Z"', "malformed"),
    ],
)
def test_precheck_refusals_of_odd_shapes(old, new, reason):
    assert refused(precheck, _reshaped(old, new)).reason == reason


def test_a_signed_response_without_its_own_issuer_is_refused():
    signature = (
        '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo/>'
        "</ds:Signature>"
    )
    xml = _reshaped("<samlp:Status>", signature + "<samlp:Status>")

    error = refused(precheck, xml)

    assert (error.reason, error.message) == ("issuer", f"Response Issuer [] is not {IDP!r}")


def test_an_encrypted_assertion_waits_for_decryption_but_its_sender_is_checked_now():
    encrypted = (
        "<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc='x'/></saml:EncryptedAssertion>"
    )
    start = response_xml().index(b"<saml:Assertion")
    end = response_xml().index(b"</saml:Assertion>") + len(b"</saml:Assertion>")
    without_issuer = response_xml()[:start] + encrypted.encode() + response_xml()[end:]
    with_issuer = without_issuer.replace(
        b"<samlp:Status>", f"<saml:Issuer>{IDP}</saml:Issuer><samlp:Status>".encode()
    )

    assert refused(precheck, without_issuer).reason == "issuer"
    precheck(with_issuer)
