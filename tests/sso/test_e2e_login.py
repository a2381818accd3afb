"""End-to-end SAML login against the independent pysaml2 IdP: SP- and IdP-initiated
login, landing and RelayState safety, session rotation, NameID handling, signing
variants, certificate rollover, several IdPs side by side."""

from __future__ import annotations

import pytest

from sso.models import IdentityProvider, SamlSession
from tests.sso.conftest import (
    SLUG,
    Browser,
    assert_refused,
    identity_user,
    idp_import,
    idp_update,
    roles_of,
)
from tests.sso.idp_peer import IdpPeer, post_form
from users.models import AuditEvent, MembershipSource, User

pytestmark = pytest.mark.django_db(transaction=False)

ME = "/api/v1/me/"
ANN = "ann@example.com"


def test_sp_initiated_login_creates_the_user_rotates_the_session_and_lands_on_next(browser):
    started = browser.start(next_path=ME)
    assert started.request.acs_url == "http://testserver/sso/onelogin/acs/"
    assert started.request.issuer == "http://testserver/sso/onelogin/metadata/"
    assert started.session_key_before  # a session before login (rotated below)
    xml = browser.peer.response_xml(
        name_id=ANN,
        in_response_to=started.request.id,
        attributes={"User.email": ANN, "User.FirstName": "Ann", "User.LastName": "Lee"},
    )

    response = browser.post(xml, started.request.relay_state)

    assert response.status_code == 200, response.content[:500]
    assert response.redirect_chain[-1][0] == ME
    user = identity_user(ANN)
    assert response.json()["userName"] == user.username
    assert response.json()["email"] == ANN
    assert (user.email, user.first_name, user.last_name, user.source) == (ANN, "Ann", "Lee", "saml")
    assert browser.logged_in_user_id() == str(user.pk)
    assert browser.client.session.session_key != started.session_key_before
    assert AuditEvent.objects.filter(action="saml.login", target_id=str(user.pk)).count() == 1
    session = SamlSession.objects.get(user=user)
    assert session.session_key == browser.client.session.session_key
    assert session.name_id == ANN
    assert session.session_index


def test_login_without_next_lands_on_a_same_site_page(browser):
    response = browser.login(ANN)

    assert response.status_code == 200
    final = response.redirect_chain[-1][0]
    assert final.startswith("/")
    assert not final.startswith("//")
    assert browser.logged_in_user_id() == str(identity_user(ANN).pk)


@pytest.mark.parametrize(
    "unsafe_next",
    ["https://evil.example/steal", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"],
)
def test_an_offsite_next_is_replaced_by_a_same_site_landing(browser, unsafe_next):
    response = browser.login(ANN, next_path=unsafe_next)

    assert browser.logged_in_user_id() is not None
    for url, _status in response.redirect_chain:
        assert "evil.example" not in url
        assert not url.startswith("javascript:")


def test_idp_initiated_login_is_refused_unless_allowed(browser, client):
    xml = browser.peer.response_xml(name_id=ANN, attributes={"User.email": ANN})

    response = browser.post(xml)

    assert_refused(response, client, "idp_initiated_not_allowed", status=403)
    assert not User.objects.filter(email=ANN).exists()


def test_idp_initiated_login_works_where_allowed(browser):
    idp_update(SLUG, allow_idp_initiated=True)
    xml = browser.peer.response_xml(name_id=ANN, attributes={"User.email": ANN})

    response = browser.post(xml, relay_state=ME)

    assert response.status_code == 200
    assert browser.logged_in_user_id() == str(identity_user(ANN).pk)


def test_import_flag_allow_idp_initiated_turns_it_on(peer):
    idp_import(peer, "okta", "--allow-idp-initiated")

    idp = IdentityProvider.objects.get(slug="okta")
    assert idp.allow_idp_initiated is True
    assert idp.entity_id == peer.entity_id
    assert idp.sso_url == peer.sso_url
    assert idp.slo_url == peer.slo_url
    assert idp.want_assertions_signed is True
    assert idp.clock_skew_seconds == 120


def test_certificate_rollover_accepts_either_published_certificate(peer, peer_keys, client):
    idp_import(peer, SLUG, keys=[peer_keys["idp-signing"], peer_keys["idp-next"]])
    browser = Browser(client, peer)

    browser.login(ANN)
    assert browser.logged_in_user_id() is not None
    client.logout()
    browser.login(ANN, signer=peer_keys["idp-next"])

    assert browser.logged_in_user_id() == str(identity_user(ANN).pk)


def test_a_certificate_dropped_from_metadata_is_no_longer_accepted(peer, peer_keys, client):
    idp_import(peer, SLUG, keys=[peer_keys["idp-next"]])
    browser = Browser(client, peer)

    response = browser.login(ANN, signer=peer_keys["idp-signing"])

    assert_refused(response, client, "signature")


@pytest.mark.parametrize(
    "signing",
    [
        {"sign_assertion": True, "sign_response": True},
        {"sign_assertion": True, "sign_response": False},
    ],
)
def test_signed_assertion_with_or_without_signed_response_is_accepted(browser, signing):
    browser.login(ANN, **signing)

    assert browser.logged_in_user_id() is not None


def test_signed_response_with_unsigned_assertion_is_accepted_when_the_idp_allows_it(browser):
    idp_update(SLUG, want_assertions_signed=False)

    browser.login(ANN, sign_assertion=False, sign_response=True)

    assert browser.logged_in_user_id() is not None


def test_two_idps_side_by_side_keep_their_own_identities_and_roles(
    peer, peer_keys, client, tmp_path
):
    other = IdpPeer(
        tmp_path / "other",
        entity_id="https://okta.example.test/app/exk1",
        base_url="https://okta.example.test/app",
        key=peer_keys["other-idp"],
    )
    idp_import(other, "okta")
    other.trust_sp(client.get("/sso/okta/metadata/").content)
    Browser(client, peer).login(ANN, {"User.email": ANN, "memberOf": ["A"]})
    client.logout()

    # The other IdP's response posted to the first IdP's ACS is refused (issuer/signature).
    wrong = Browser(client, other, slug="okta")
    started = wrong.start()
    xml = other.response_xml(
        name_id=ANN, in_response_to=started.request.id, attributes={"memberOf": ["B"]}
    )
    refused = client.post(f"/sso/{SLUG}/acs/", post_form(xml), follow=True)
    assert refused.status_code == 400
    assert "_auth_user_id" not in client.session

    wrong.login("ann.okta@example.com", {"User.email": "ann.okta@example.com", "memberOf": ["B"]})
    okta_user = identity_user("ann.okta@example.com", "okta")
    assert roles_of(okta_user) == {"B": {MembershipSource.saml("okta")}}
    assert roles_of(identity_user(ANN)) == {"A": {MembershipSource.saml(SLUG)}}


def test_unknown_idp_is_a_404(client, site, db):
    assert client.get("/sso/nobody/login/").status_code == 404
    assert client.post("/sso/nobody/acs/", {"SAMLResponse": "eA=="}).status_code == 404


def test_me_requires_a_session(client, db):
    response = client.get(ME)

    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


UNSPECIFIED = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"

TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"


def test_okta_style_opaque_nameid_is_the_key_and_the_email_names_the_user(browser, client):
    browser.login(
        "00u1a2b3c4D5e6F7g8", {"email": ANN, "firstName": "Ann"}, name_id_format=UNSPECIFIED
    )
    client.logout()
    # The email changes at the IdP: the opaque NameID still finds the same account.
    browser.login(
        "00u1a2b3c4D5e6F7g8", {"email": "ann.lee@example.com"}, name_id_format=UNSPECIFIED
    )

    user = identity_user("00u1a2b3c4D5e6F7g8")
    assert user.username == ANN
    assert user.email == "ann.lee@example.com"
    assert user.first_name == "Ann"
    assert User.objects.count() == 1


def test_nameid_comparison_is_exact(browser, client):
    browser.login("00uABC", {"email": ANN}, name_id_format=UNSPECIFIED)
    client.logout()

    browser.login("00uabc", {"email": "other@example.com"}, name_id_format=UNSPECIFIED)

    assert identity_user("00uABC") != identity_user("00uabc")


def test_transient_nameid_is_refused(browser, client):
    response = browser.login(
        "_3f7b3dcf-1674-4ecd-92c8-1544f346baf8", {"email": ANN}, name_id_format=TRANSIENT
    )

    assert_refused(response, client, "no_nameid")
    assert not User.objects.exists()


def test_idp_initiated_relay_state_offsite_lands_same_site(browser):
    idp_update(SLUG, allow_idp_initiated=True)
    xml = browser.peer.response_xml(name_id=ANN, attributes={"User.email": ANN})

    response = browser.post(xml, relay_state="https://evil.example/phish")

    assert browser.logged_in_user_id() is not None
    assert all("evil.example" not in url for url, _ in response.redirect_chain)


def test_a_second_login_in_the_same_browser_switches_user_and_rotates_the_session(browser, client):
    browser.login(ANN)
    ann_key = client.session.session_key

    browser.login("bob@example.com", {"User.email": "bob@example.com"})

    assert browser.logged_in_user_id() == str(identity_user("bob@example.com").pk)
    assert client.session.session_key != ann_key
    assert (
        SamlSession.objects.filter(session_key=client.session.session_key).get().name_id
        == "bob@example.com"
    )
