"""After a SAML login through the pysaml2 peer the employee lands on the home page (/),
whose sign-out is the IdP's single logout, and whose account page lists the session."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session

from sso.models import SamlSession
from tests.sso.conftest import SLUG

pytestmark = pytest.mark.django_db

ANN = "ann@example.com"


def test_a_login_without_next_lands_on_home_with_single_logout(browser, client):
    response = browser.login(ANN, {"User.email": ANN, "User.FirstName": "Ann"})

    assert response.redirect_chain[-1] == ("/", 303)
    html = response.content.decode()
    assert "Welcome, Ann" in html
    assert f'<form method="post" action="/sso/{SLUG}/logout/">' in html
    key = client.session.session_key

    account = client.get("/account/").content.decode()
    assert "<strong>(this browser)</strong>" in account
    assert "without single sign-on" not in account

    signed_out = client.post(f"/sso/{SLUG}/logout/")
    assert signed_out.status_code == 302  # to the IdP's logout endpoint
    assert not Session.objects.filter(session_key=key).exists()
    assert not SamlSession.objects.filter(session_key=key).exists()
    assert client.get("/account/")["Location"] == "/?next=/account/"


def test_a_login_started_from_a_page_returns_to_it(browser, client):
    response = browser.login(ANN, next_path="/people/")

    assert response.redirect_chain[-1] == ("/people/", 303)
    assert "Search by name, email, title or department" in response.content.decode()


def test_sign_out_everywhere_ends_the_saml_sessions_too(browser, client, peer):
    browser.login(ANN)
    key = client.session.session_key

    client.post("/account/sign-out-everywhere/")

    assert not SamlSession.objects.exists()
    assert not Session.objects.filter(session_key=key).exists()
