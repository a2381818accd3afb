"""Encrypted assertions (issue 8, finding 8): python3-saml decrypts an EncryptedAssertion
with the SP's key and then applied only its own, looser checks to it (a prefix match of
the Recipient, a fixed 300 s clock drift). The decrypted document now gets every check a
plaintext assertion gets; one our key cannot open is refused with a reason that says so.
The conformance shapes are tried encrypted in test_e2e_conformance.py."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.sso import idp_peer as attacks
from tests.sso.conftest import assert_refused, idp_update
from tests.sso.idp_peer import now
from users.models import User

pytestmark = pytest.mark.django_db

ANN = "ann@example.com"
ADMIN = "admin@x.com"


def _encrypted(browser, **options):
    """Start a login; a response answering it, assertion signed and encrypted and the
    Response signed (the shape that reached python3-saml's own checks only)."""
    started = browser.start()
    options.setdefault("in_response_to", started.request.id)
    options.setdefault("attributes", {"User.email": ANN})
    xml = browser.peer.response_xml(
        name_id=options.pop("name_id", ANN), encrypt=True, sign_response=True, **options
    )
    return started, xml


def test_an_encrypted_assertion_for_a_prefix_of_our_acs_is_refused(browser, client):
    _, xml = _encrypted(browser, recipient="http://testserver/sso/onelogin/acs/other/")

    assert_refused(browser.post(xml), client, "recipient")
    assert not User.objects.filter(email=ANN).exists()


def test_an_encrypted_assertion_gets_the_idps_clock_skew_not_python3_samls(browser, client):
    idp_update("onelogin", clock_skew_seconds=0)
    # python3-saml alone tolerates 300 s of drift on the Conditions.
    _, xml = _encrypted(
        browser,
        not_before=now() + dt.timedelta(seconds=200),
        not_on_or_after=now() + dt.timedelta(minutes=10),
    )

    assert_refused(browser.post(xml), client, "not_yet_valid")


def test_an_assertion_encrypted_for_another_key_is_refused_with_its_own_reason(
    browser, client, peer_keys
):
    started = browser.start()
    signed = browser.peer.response_xml(
        name_id=ANN, in_response_to=started.request.id, attributes={"User.email": ANN}
    )
    foreign = browser.peer.encrypt_assertion(signed, certificate=peer_keys["foreign"].cert_b64)
    xml = browser.peer.sign(foreign, sign_assertion=False, sign_response=True)

    event = assert_refused(browser.post(xml), client, "decryption")
    assert "could not be decrypted" in event.detail["message"]


def test_a_comment_inside_an_encrypted_nameid_is_refused(browser, client):
    admin = User.objects.create(username="admin", email=ADMIN)
    idp_update("onelogin", link_by_email=True)
    started = browser.start()
    signed = browser.peer.response_xml(
        name_id=ADMIN + ".evil.com",
        in_response_to=started.request.id,
        attributes={"User.email": ADMIN + ".evil.com"},
    )
    injected = attacks.name_id_comment_inject(signed, ADMIN)
    xml = browser.peer.sign(
        browser.peer.encrypt_assertion(injected), sign_assertion=False, sign_response=True
    )

    assert_refused(browser.post(xml), client, "malformed")
    assert browser.logged_in_user_id() != str(admin.pk)


def test_an_unsigned_encrypted_assertion_in_an_unsigned_response_is_refused(browser, client):
    started = browser.start()
    unsigned = browser.peer.response_xml(
        name_id=ANN,
        in_response_to=started.request.id,
        attributes={"User.email": ANN},
        sign_assertion=False,
    )
    xml = browser.peer.encrypt_assertion(unsigned)

    assert_refused(browser.post(xml), client, "signature")


def _pem_body(pem: str) -> str:
    return "".join(line for line in pem.splitlines() if "-----" not in line)


def _fresh_sp_key() -> str:
    """This test's own first SP key (the process caches key pairs across tests)."""
    from sso import keys
    from sso.saml_settings import settings_cache_clear

    keys.keys_cache_clear()
    settings_cache_clear()
    return keys.sp_keys_active()[0].certificate_pem


def test_an_idp_that_must_encrypt_is_refused_a_plaintext_assertion(browser, client):
    idp_update("onelogin", want_assertions_encrypted=True)

    response = browser.login(ANN)

    assert_refused(response, client, "unencrypted_assertion")
    assert not User.objects.filter(email=ANN).exists()


def test_an_idp_that_must_encrypt_signs_in_with_an_encrypted_assertion(browser, client):
    idp_update("onelogin", want_assertions_encrypted=True)
    _, xml = _encrypted(browser)

    response = browser.post(xml)

    assert response.status_code == 200, response.content[:500]
    assert browser.logged_in_user_id() == str(User.objects.get(email=ANN).pk)


def test_the_metadata_publishes_the_newest_key_for_encryption(browser, client):
    from lxml import etree

    from sso import keys
    from sso.models import SPKey

    _fresh_sp_key()
    keys.sp_key_create(name="sp-key-2")
    root = etree.fromstring(client.get("/sso/onelogin/metadata/").content)
    ns = {"md": "urn:oasis:names:tc:SAML:2.0:metadata", "ds": "http://www.w3.org/2000/09/xmldsig#"}

    def certs(use: str) -> list[str]:
        path = f"//md:KeyDescriptor[@use='{use}']//ds:X509Certificate"
        return ["".join(el.text.split()) for el in root.xpath(path, namespaces=ns)]

    newest = SPKey.objects.get(name="sp-key-2").certificate_pem
    assert certs("encryption") == [_pem_body(newest)]
    assert len(certs("signing")) == 2


def test_an_assertion_encrypted_for_the_previous_key_during_a_rollover_signs_in(browser, client):
    from sso import keys

    previous = _fresh_sp_key()
    keys.sp_key_create(name="sp-key-2")
    browser.peer.trust_sp(client.get("/sso/onelogin/metadata/").content)
    started = browser.start()
    signed = browser.peer.response_xml(
        name_id=ANN, in_response_to=started.request.id, attributes={"User.email": ANN}
    )
    encrypted = browser.peer.encrypt_assertion(signed, certificate=_pem_body(previous))
    xml = browser.peer.sign(encrypted, sign_assertion=False, sign_response=True)

    response = browser.post(xml)

    assert response.status_code == 200, response.content[:500]
    assert browser.logged_in_user_id() == str(User.objects.get(email=ANN).pk)
