"""The IdP peer checked on its own against a bare python3-saml SP (strict mode): its
messages are valid SAML, and the attacks it makes are the ones python3-saml alone does
or does not catch (SAML_SECURITY.md's measured table). The app's own tests then show
that the product closes every gap."""

from __future__ import annotations

import datetime as dt

import pytest
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from tests.sso import idp_peer as P  # noqa: N812 (short: used on every line)

BASE = "http://sp.test/sso/x"


@pytest.fixture
def reference(tmp_path, peer_keys):
    """A bare strict python3-saml SP trusting the peer, and the peer trusting it."""
    peer = P.IdpPeer(tmp_path, key=peer_keys["idp-signing"])
    sp_key = peer_keys["other-idp"]
    settings = {
        "strict": True,
        "sp": {
            "entityId": BASE + "/metadata/",
            "assertionConsumerService": {"url": BASE + "/acs/", "binding": P.BINDING_HTTP_POST},
            "singleLogoutService": {"url": BASE + "/sls/", "binding": P.BINDING_HTTP_REDIRECT},
            "NameIDFormat": P.NAMEID_FORMAT_EMAILADDRESS,
            "x509cert": sp_key.cert_pem.decode(),
            "privateKey": sp_key.key_pem.decode(),
        },
        "idp": OneLogin_Saml2_IdPMetadataParser.parse(peer.metadata_xml())["idp"],
        "security": {
            "authnRequestsSigned": True,
            "wantAssertionsSigned": True,
            "rejectDeprecatedAlgorithm": True,
            "signatureAlgorithm": P.RSA_SHA256,
            "digestAlgorithm": P.DIGEST_SHA256,
        },
    }
    peer.trust_sp(OneLogin_Saml2_Settings(settings).get_sp_metadata())
    return peer, settings


def _request(path: str, post: dict | None = None) -> dict:
    return {
        "https": "off",
        "http_host": "sp.test",
        "script_name": path,
        "get_data": {},
        "post_data": post or {},
    }


def _start(peer, settings):
    url = OneLogin_Saml2_Auth(_request("/sso/x/login/"), settings).login(return_to="/next/")
    return peer.authn_request_read(url)


def _validate(settings, xml: str, request_id: str | None):
    auth = OneLogin_Saml2_Auth(_request("/sso/x/acs/", P.post_form(xml)), settings)
    auth.process_response(request_id=request_id)
    return auth


def test_peer_reads_the_signed_authn_request(reference):
    peer, settings = reference

    seen = _start(peer, settings)

    assert seen.signed
    assert seen.sig_alg == P.RSA_SHA256
    assert (seen.acs_url, seen.issuer, seen.relay_state) == (
        BASE + "/acs/",
        BASE + "/metadata/",
        "/next/",
    )


def test_a_tampered_redirect_query_fails_the_peer_signature_check(reference):
    peer, settings = reference
    url = OneLogin_Saml2_Auth(_request("/sso/x/login/"), settings).login(return_to="/next/")

    tampered = url.replace("RelayState=%2Fnext%2F", "RelayState=%2Fevil%2F")

    assert P.redirect_message_read(tampered, peer.sp.certificates).signed_by is None


@pytest.mark.parametrize(
    "signing", [{}, {"sign_response": True}, {"sign_assertion": True, "sign_response": True}]
)
def test_peer_response_is_valid_for_strict_python3_saml(reference, signing):
    peer, settings = reference
    seen = _start(peer, settings)
    xml = peer.response_xml(
        name_id="ann@example.com",
        in_response_to=seen.id,
        session_index="_s1",
        attributes={"User.FirstName": "Ann", "memberOf": ["A", "B"]},
        **signing,
    )

    auth = _validate(settings, xml, seen.id)

    assert auth.get_errors() == []
    assert auth.get_nameid() == "ann@example.com"
    assert auth.get_session_index() == "_s1"
    assert auth.get_attributes() == {"User.FirstName": ["Ann"], "memberOf": ["A", "B"]}


def _attack_cases(peer, seen, foreign):
    def signed(**options):
        options.setdefault("in_response_to", seen.id)
        return peer.response_xml(
            name_id="ann@example.com", attributes={"User.email": "x"}, **options
        )

    past = P.now() - dt.timedelta(hours=2)
    return {
        "audience": (signed(audience="https://evil/"), "not a valid audience"),
        "destination": (signed(destination="https://evil/acs/"), "instead of"),
        "recipient": (signed(recipient="https://evil/acs/"), "valid SubjectConfirmation"),
        "in_response_to": (signed(in_response_to="_bogus"), "does not match"),
        "expired": (signed(issue_instant=past, not_on_or_after=past), "expired"),
        "stripped": (P.strip_signatures(signed()), "not signed"),
        "xsw": (P.xsw_evil_assertion_first(signed(), "admin@x.com"), "1 assertion"),
        "xsw_moved": (P.xsw_signed_assertion_moved(signed(), "admin@x.com"), "1 assertion"),
        "foreign": (signed(signer=foreign), "Signature validation failed"),
        "sha1": (signed(sha1=True), "Deprecated signature algorithm"),
        "tampered": (P.name_id_replace(signed(), "admin@x.com"), "Signature validation failed"),
    }


def test_python3_saml_alone_refuses_these_attacks(reference, peer_keys):
    peer, settings = reference
    seen = _start(peer, settings)

    for name, (xml, message) in _attack_cases(peer, seen, peer_keys["foreign"]).items():
        auth = _validate(settings, xml, seen.id)
        assert message in (auth.get_last_error_reason() or ""), name


def test_python3_saml_alone_lets_these_through_which_the_product_must_refuse(reference):
    """The gaps of SAML_SECURITY.md, reproduced: prefix-tricked Destination and
    Recipient, and a missing InResponseTo all pass python3-saml's strict mode."""
    peer, settings = reference
    seen = _start(peer, settings)
    acs = BASE + "/acs/"
    gaps = [
        peer.response_xml(
            name_id="a@x.com",
            in_response_to=seen.id,
            destination=acs + "other/",
            attributes={"a": "1"},
        ),
        peer.response_xml(
            name_id="a@x.com",
            in_response_to=seen.id,
            recipient=acs + "other/",
            attributes={"a": "1"},
        ),
        peer.response_xml(name_id="a@x.com", attributes={"a": "1"}),
    ]

    for xml in gaps:
        assert _validate(settings, xml, seen.id).get_errors() == []


def test_comment_injection_keeps_the_signature_valid(reference):
    peer, settings = reference
    seen = _start(peer, settings)
    xml = peer.response_xml(
        name_id="admin@x.com.evil.com", in_response_to=seen.id, attributes={"a": "1"}
    )

    injected = P.name_id_comment_inject(xml, "admin@x.com")

    assert "admin@x.com<!---->.evil.com" in injected
    auth = _validate(settings, injected, seen.id)
    assert auth.get_errors() == []
    assert auth.get_nameid() == "admin@x.com.evil.com"  # python3-saml reads the whole text


def test_logout_request_url_is_signed_and_readable(reference):
    peer, _ = reference

    url = peer.logout_request_url(name_id="ann@example.com", session_index="_s1", relay_state="r")

    message = P.redirect_message_read(url, [peer.key.cert_b64])
    assert message.signed_by == peer.key.cert_b64
    assert message.relay_state == "r"
    assert "ann@example.com" in message.xml
    assert "_s1" in message.xml
    unsigned = peer.logout_request_url(name_id="ann@example.com", signed=False)
    assert P.query_param(unsigned, "Signature") is None


def test_deflate_bomb_is_small_on_the_wire_and_large_inflated():
    bomb = P.deflate_bomb(megabytes=8)

    assert len(bomb) < 50_000
    assert len(P.inflate(bomb)) > 8 * 1024 * 1024
