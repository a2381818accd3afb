"""The browser binding cookie and the two ways the ACS completes a login: in the POST
itself when the signed binding cookie arrives (an https site, SameSite=None), through the
same-site hop when it does not (an http site, Lax). The checks are the same either way."""

from __future__ import annotations

import time

import pytest
from django.core import signing
from django.test import Client

from sso.browser_binding import _SALT, COOKIE_NAME
from sso.keys import key_pair_generate, keys_cache_clear
from sso.models import IdentityProvider, OutstandingRequest, PendingResponse, SamlSession
from sso.saml_settings import settings_cache_clear
from tests.sso.conftest import SLUG, assert_refused, identity_user, idp_update
from tests.sso.idp_peer import post_form
from users.models import AuditEvent

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"
ANN = "ann@example.com"
ACS = f"/sso/{SLUG}/acs/"
HOP = f"/sso/{SLUG}/acs/complete/?k="


def _response_for(browser, started) -> str:
    return browser.peer.response_xml(
        name_id=ANN, in_response_to=started.request.id, attributes={"User.email": ANN}
    )


def _signed_at(browser_id: str, seconds_ago: int) -> str:
    """A binding cookie value as /login/ would have signed it, seconds_ago earlier."""
    signer = signing.get_cookie_signer(salt=COOKIE_NAME + _SALT)
    signer.timestamp = lambda: signing.b62_encode(int(time.time()) - seconds_ago)  # type: ignore[method-assign]
    return signer.sign(browser_id)


def test_with_the_binding_cookie_the_acs_post_completes_the_login_in_one_request(browser, client):
    started = browser.start(next_path=ME)
    assert COOKIE_NAME in client.cookies

    response = client.post(
        ACS, post_form(_response_for(browser, started), started.request.relay_state)
    )

    user = identity_user(ANN)
    assert response.status_code == 303
    assert response["Location"] == ME
    assert not PendingResponse.objects.exists()
    assert browser.logged_in_user_id() == str(user.pk)
    assert client.session.session_key != started.session_key_before
    assert SamlSession.objects.get(user=user).session_key == client.session.session_key
    assert AuditEvent.objects.filter(action="saml.login", target_id=str(user.pk)).count() == 1
    assert not OutstandingRequest.objects.filter(request_id=started.request.id).exists()
    assert client.get(ME).json()["email"] == ANN


def test_without_the_binding_cookie_the_acs_parks_and_the_same_site_hop_completes(browser, client):
    started = browser.start(next_path=ME)
    binding = client.cookies.pop(COOKIE_NAME)  # a Lax cookie stays behind on the IdP's POST

    posted = client.post(
        ACS, post_form(_response_for(browser, started), started.request.relay_state)
    )

    pending = PendingResponse.objects.get()
    assert posted.status_code == 303
    assert posted["Location"] == HOP + pending.key
    assert browser.logged_in_user_id() is None
    client.cookies[COOKIE_NAME] = binding.value  # ... and comes with the same-site GET
    completed = client.get(posted["Location"])
    assert completed.status_code == 302
    assert completed["Location"] == ME
    assert browser.logged_in_user_id() == str(identity_user(ANN).pk)
    assert not PendingResponse.objects.exists()


@pytest.mark.parametrize("forgery", ["unsigned", "tampered", "expired"])
def test_a_forged_or_stale_binding_cookie_binds_nothing(browser, client, forgery):
    started = browser.start(next_path=ME)
    genuine = client.cookies[COOKIE_NAME].value
    browser_id = OutstandingRequest.objects.get(request_id=started.request.id).browser
    forged = {
        "unsigned": browser_id,
        "tampered": ("y" if genuine[0] == "x" else "x") + genuine[1:],  # always a change
        "expired": _signed_at(browser_id, seconds_ago=16 * 60),
    }[forgery]
    client.cookies[COOKIE_NAME] = forged

    posted = client.post(
        ACS, post_form(_response_for(browser, started), started.request.relay_state)
    )
    assert posted.status_code == 303  # read as absent: the hop, not a login
    assert posted["Location"].startswith(HOP)
    completed = client.get(posted["Location"])

    assert_refused(completed, client, "in_response_to_unknown")
    assert not AuditEvent.objects.filter(action="saml.login").exists()


def test_a_response_started_in_browser_a_is_refused_in_browser_b(browser, client, peer):
    started = browser.start(next_path=ME)
    other = Client()
    assert other.get(f"/sso/{SLUG}/login/").status_code == 302  # B has its own binding
    assert other.cookies[COOKIE_NAME].value != client.cookies[COOKIE_NAME].value

    response = other.post(
        ACS, post_form(_response_for(browser, started), started.request.relay_state)
    )

    assert_refused(response, other, "in_response_to_unknown")
    assert not PendingResponse.objects.exists()
    assert not AuditEvent.objects.filter(action="saml.login").exists()
    assert OutstandingRequest.objects.filter(request_id=started.request.id).exists()


def test_two_logins_started_in_one_browser_share_its_binding(browser, client):
    first = browser.start(next_path=ME)
    second = browser.start(next_path=ME)

    browsers = set(
        OutstandingRequest.objects.filter(
            request_id__in=[first.request.id, second.request.id]
        ).values_list("browser", flat=True)
    )
    response = client.post(ACS, post_form(_response_for(browser, first), first.request.relay_state))

    assert len(browsers) == 1
    assert response.status_code == 303
    assert response["Location"] == ME


def test_an_allowed_idp_initiated_response_completes_in_the_post_without_a_binding(peer):
    idp_update(SLUG, allow_idp_initiated=True)
    stranger = Client()
    xml = peer.response_xml(name_id=ANN, attributes={"User.email": ANN})

    response = stranger.post(ACS, post_form(xml, ME))

    assert response.status_code == 303
    assert response["Location"] == ME
    assert stranger.session["_auth_user_id"] == str(identity_user(ANN).pk)


def test_an_unsolicited_response_to_an_idp_that_forbids_it_is_still_refused(peer):
    stranger = Client()
    xml = peer.response_xml(name_id=ANN, attributes={"User.email": ANN})

    posted = stranger.post(ACS, post_form(xml, ME))
    assert posted["Location"].startswith(HOP)
    completed = stranger.get(posted["Location"])

    assert_refused(completed, stranger, "idp_initiated_not_allowed", status=403)


@pytest.fixture
def plain_idp(settings):
    keys_cache_clear()
    settings_cache_clear()
    pem, _key = key_pair_generate("idp.example.com")
    yield IdentityProvider.objects.create(
        slug="acme",
        entity_id="https://idp.example.com/md",
        sso_url="https://idp.example.com/sso",
        signing_certificates=["".join(pem.splitlines()[1:-1])],
    )
    keys_cache_clear()
    settings_cache_clear()


def test_on_an_https_site_the_binding_cookie_is_samesite_none_secure_httponly(
    client, settings, plain_idp
):
    settings.SITE_URL = "https://sp.example.com"

    response = client.get("/sso/acme/login/")

    cookie = response.cookies[COOKIE_NAME]
    assert response.status_code == 302
    assert (cookie["samesite"], cookie["secure"], cookie["httponly"]) == ("None", True, True)
    assert (cookie["path"], cookie["max-age"]) == ("/sso/", 900)


def test_on_an_http_site_the_binding_cookie_is_lax_and_not_secure(client, settings, plain_idp):
    settings.SITE_URL = "http://testserver"

    response = client.get("/sso/acme/login/")

    cookie = response.cookies[COOKIE_NAME]
    assert (cookie["samesite"], cookie["secure"], cookie["httponly"]) == ("Lax", "", True)
    assert (cookie["path"], cookie["max-age"]) == ("/sso/", 900)
