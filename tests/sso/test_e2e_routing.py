"""Sign-in routing by email domain (issue 10, item 6): /sso/ goes straight to the one
active identity provider, or asks for the work email and sends the person to the IdP
that lists its domain, passing the address on as a login hint."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from sso.models import IdentityProvider
from tests.sso.conftest import SLUG, idp_import, idp_update
from tests.sso.idp_peer import IdpPeer

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_idps(peer, peer_keys, tmp_path, client):
    okta = IdpPeer(
        tmp_path / "okta",
        entity_id="https://okta.example.test/app/exk1",
        base_url="https://okta.example.test/app",
        key=peer_keys["other-idp"],
    )
    idp_import(okta, "okta")
    okta.trust_sp(client.get("/sso/okta/metadata/").content)
    idp_update(SLUG, email_domains=["onelogin-co.com"])
    idp_update("okta", email_domains=["okta-co.com", "okta-co.org"])
    return okta


def test_with_one_active_idp_sign_in_goes_straight_there(peer, client):
    response = client.get("/sso/", {"next": "/people/"})

    assert response.status_code == 302
    assert response["Location"] == f"/sso/{SLUG}/login/?next=%2Fpeople%2F"


def test_with_several_idps_the_page_asks_for_the_email_and_offers_each(two_idps, client):
    response = client.get("/sso/")

    page = response.content.decode()
    assert response.status_code == 200
    assert 'type="email"' in page
    assert f'href="/sso/{SLUG}/login/?next=' in page
    assert 'href="/sso/okta/login/?next=' in page


def test_the_email_domain_picks_the_idp_and_rides_along_as_login_hint(two_idps, client):
    routed = client.post("/sso/", {"email": "Ann@Okta-Co.org", "next": "/spaces/"})

    assert routed.status_code == 302
    login = urlsplit(routed["Location"])
    assert login.path == "/sso/okta/login/"
    assert parse_qs(login.query) == {"next": ["/spaces/"], "login_hint": ["Ann@Okta-Co.org"]}
    at_idp = client.get(routed["Location"])
    assert at_idp.status_code == 302
    assert parse_qs(urlsplit(at_idp["Location"]).query)["login_hint"] == ["Ann@Okta-Co.org"]
    # The hint is outside the signed parts: the IdP still verifies the AuthnRequest.
    assert two_idps.authn_request_read(at_idp["Location"]).signed


def test_an_unknown_domain_is_a_clear_error_with_the_choices(two_idps, client):
    response = client.post("/sso/", {"email": "ann@elsewhere.com"})

    page = response.content.decode()
    assert response.status_code == 400
    assert "No sign-in is set up for that email domain" in page
    assert 'href="/sso/okta/login/?next=' in page


def test_not_an_email_is_refused(two_idps, client):
    response = client.post("/sso/", {"email": "okta-co.com"})

    assert response.status_code == 400
    assert "That is not an email address." in response.content.decode()


def test_routing_never_redirects_off_site(two_idps, client):
    routed = client.post("/sso/", {"email": "ann@okta-co.com", "next": "https://evil.example/"})

    next_path = parse_qs(urlsplit(routed["Location"]).query)["next"][0]
    assert next_path.startswith("/")
    assert not next_path.startswith("//")
    assert "evil" not in routed["Location"]


def test_the_email_form_needs_its_csrf_token(two_idps):
    response = Client(enforce_csrf_checks=True).post("/sso/", {"email": "ann@okta-co.com"})

    assert response.status_code == 403


def test_without_any_idp_the_page_says_sign_in_is_not_set_up(client, db):
    response = client.get("/sso/")

    assert response.status_code == 503
    assert "Single sign-on is not set up yet" in response.content.decode()


def test_a_domain_belongs_to_one_idp(two_idps):
    idp = IdentityProvider.objects.get(slug=SLUG)
    idp.email_domains = ["OKTA-co.com"]

    with pytest.raises(ValidationError, match="already listed by identity provider okta"):
        idp.full_clean()


def test_email_domains_are_normalised_and_checked(peer):
    idp = IdentityProvider.objects.get(slug=SLUG)
    idp.email_domains = ["@Example.COM ", "example.com"]
    idp.full_clean()
    assert idp.email_domains == ["example.com"]

    idp.email_domains = ["not a domain"]
    with pytest.raises(ValidationError, match="not a domain name"):
        idp.full_clean()
