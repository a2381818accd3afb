"""IdP-initiated logout over the HTTP-POST binding (XML signature inside the message).
The end-to-end tests drive the Redirect binding with the pysaml2 peer; here the
LogoutRequest is signed with python3-saml's own signer and an IdP key made on the spot."""

from __future__ import annotations

import base64
import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.sessions.models import Session
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from sso.keys import key_pair_generate, keys_cache_clear
from sso.models import IdentityProvider, SamlSession
from sso.saml_settings import settings_cache_clear
from tests.factories import UserFactory
from users.models import AuditEvent

pytestmark = pytest.mark.django_db

IDP_CERT, IDP_KEY = key_pair_generate("idp.example.com")
FOREIGN_CERT, FOREIGN_KEY = key_pair_generate("evil.example.com")
SLS = "http://testserver/sso/acme/sls/"


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = "http://testserver"
    keys_cache_clear()
    settings_cache_clear()
    yield
    keys_cache_clear()
    settings_cache_clear()


@pytest.fixture
def idp():
    return IdentityProvider.objects.create(
        slug="acme",
        entity_id="https://idp.example.com/md",
        sso_url="https://idp.example.com/sso",
        slo_url="https://idp.example.com/slo",
        signing_certificates=[IDP_CERT],
    )


@pytest.fixture
def logged_in(client, idp):
    user = UserFactory(username="ann@example.com")
    client.force_login(user)
    key = client.session.session_key
    SamlSession.objects.create(
        idp=idp, user=user, session_key=key, name_id="ann@example.com", session_index="s1"
    )
    return key


def logout_request(
    *,
    key=IDP_KEY,
    cert=IDP_CERT,
    algorithm=C.RSA_SHA256,
    digest=C.SHA256,
    sign=True,
    destination=SLS,
):
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    xml = (
        '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_lr1" Version="2.0" '
        f'IssueInstant="{now}" Destination="{destination}">'
        "<saml:Issuer>https://idp.example.com/md</saml:Issuer>"
        "<saml:NameID>ann@example.com</saml:NameID><samlp:SessionIndex>s1</samlp:SessionIndex>"
        "</samlp:LogoutRequest>"
    )
    signed = (
        OneLogin_Saml2_Utils.add_sign(
            xml, key, cert, sign_algorithm=algorithm, digest_algorithm=digest
        )
        if sign
        else xml.encode()
    )
    return base64.b64encode(signed).decode()


def refusal_reason():
    return AuditEvent.objects.filter(action="saml.logout_refused").latest("id").detail["reason"]


def test_signed_post_logout_request_ends_the_session_and_answers_signed(client, logged_in):
    from django.test import Client

    response = Client().post(
        "/sso/acme/sls/", {"SAMLRequest": logout_request(), "RelayState": "r9"}
    )

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == "https://idp.example.com/slo"
    assert set(query) == {"SAMLResponse", "RelayState", "SigAlg", "Signature"}
    assert query["RelayState"] == ["r9"]
    assert query["SigAlg"] == [C.RSA_SHA256]
    assert not Session.objects.filter(session_key=logged_in).exists()
    assert not SamlSession.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"sign": False}, "signature"),
        ({"key": FOREIGN_KEY, "cert": FOREIGN_CERT}, "signature"),
        ({"algorithm": C.RSA_SHA1, "digest": C.SHA1}, "deprecated_algorithm"),
        ({"destination": SLS + "other/"}, "destination"),
    ],
)
def test_bad_post_logout_requests_end_nothing(client, logged_in, kwargs, reason):
    from django.test import Client

    response = Client().post("/sso/acme/sls/", {"SAMLRequest": logout_request(**kwargs)})

    assert response.status_code == 400
    assert refusal_reason() == reason
    assert Session.objects.filter(session_key=logged_in).exists()
