"""Endpoint behaviour that needs no IdP peer: unknown IdPs, the POST-binding login form,
the refusal page, the ACS hop, and the admin pages."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from django.utils import timezone
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from sso.keys import key_pair_generate, keys_cache_clear, signing_key_pair
from sso.models import IdentityProvider, LoginFlow, OutstandingRequest, PendingResponse
from sso.saml_settings import settings_cache_clear
from users.models import AuditEvent

pytestmark = pytest.mark.django_db


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
    pem, _key = key_pair_generate("idp.example.com")
    return IdentityProvider.objects.create(
        slug="acme",
        entity_id="https://idp.example.com/md",
        sso_url="https://idp.example.com/sso",
        sso_binding="post",
        signing_certificates=["".join(pem.splitlines()[1:-1])],
    )


def test_unknown_idp_is_a_404_refusal_page_logged_not_audited(client, caplog):
    # Anyone can make up a slug: the refusal is a log line, never an audit row.
    response = client.get("/sso/nobody/login/")

    record = next(r for r in caplog.records if r.getMessage().startswith("SAML message refused"))
    assert response.status_code == 404
    assert not AuditEvent.objects.exists()
    assert not LoginFlow.objects.exists()
    assert (record.idp, record.reason) == ("nobody", "unknown_idp")
    assert record.reference in response.content.decode()
    assert "This sign-in link is not configured." in response.content.decode()


def test_inactive_idp_is_unknown(client, idp):
    IdentityProvider.objects.filter(pk=idp.pk).update(is_active=False)

    assert client.get("/sso/acme/metadata/").status_code == 404


def test_post_binding_login_renders_a_form_with_a_signed_authn_request(client, idp):
    response = client.get("/sso/acme/login/", {"next": "/spaces/"})

    body = response.content.decode()
    assert response.status_code == 200
    assert '<form method="post" action="https://idp.example.com/sso">' in body
    assert 'name="RelayState" value="/spaces/"' in body
    encoded = body.split('name="SAMLRequest" value="')[1].split('"')[0]
    xml = base64.b64decode(encoded)
    key, _certs = signing_key_pair()
    assert OneLogin_Saml2_Utils.validate_sign(
        xml,
        cert=key.certificate_pem,
        xpath="/samlp:AuthnRequest/ds:Signature",
        raise_exceptions=True,
    )
    assert b'Destination="https://idp.example.com/sso"' in xml
    assert b'AssertionConsumerServiceURL="http://testserver/sso/acme/acs/"' in xml
    request_id = xml.split(b' ID="')[1].split(b'"')[0].decode()
    assert OutstandingRequest.objects.filter(request_id=request_id, idp=idp, kind="authn").exists()


RESPONSE = base64.b64encode(
    b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="r1" Version="2.0">'
    b'<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>'
    b"</samlp:Status></samlp:Response>"
).decode()


def test_acs_refuses_an_unsigned_response_without_parking_it(client, idp):
    # Anonymous POSTs are parked only once they pass the cheap checks (test_e2e_hop_limits).
    response = client.post("/sso/acme/acs/", {"SAMLResponse": RESPONSE, "RelayState": "/x/"})

    assert response.status_code == 400
    assert LoginFlow.objects.get().reason == "signature"
    assert not PendingResponse.objects.exists()


@pytest.mark.parametrize(
    "value",
    ["PHg+", "%%%", base64.b64encode(b"<!DOCTYPE x><x/>").decode()],
    ids=["not_a_response", "not_base64", "doctype"],
)
def test_acs_refuses_garbage_without_parking_it(client, idp, value):
    response = client.post("/sso/acme/acs/", {"SAMLResponse": value})

    assert response.status_code == 400
    assert LoginFlow.objects.get().reason == "malformed"
    assert not PendingResponse.objects.exists()


def test_the_hop_key_works_once(client, idp):
    PendingResponse.objects.create(
        key="k1",
        idp=idp,
        saml_response=RESPONSE,
        expires_at=timezone.now() + dt.timedelta(minutes=2),
    )
    location = "/sso/acme/acs/complete/?k=k1"

    first = client.get(location)
    second = client.get(location)

    reasons = list(
        LoginFlow.objects.filter(outcome="refused").order_by("id").values_list("reason", flat=True)
    )
    assert (first.status_code, second.status_code) == (400, 400)
    assert reasons == ["signature", "replay"]


def test_acs_refuses_get_and_an_empty_post(client, idp):
    assert client.get("/sso/acme/acs/").status_code == 405
    response = client.post("/sso/acme/acs/", {})
    assert response.status_code == 400
    assert LoginFlow.objects.get().message == "the POST carries no SAML response"


def test_logout_without_a_saml_session_lands_on_the_logged_out_page(client, idp):
    response = client.post("/sso/acme/logout/", follow=True)

    assert response.redirect_chain == [("/sso/acme/logged-out/", 302)]
    assert "You are signed out" in response.content.decode()


def test_admin_idp_page_shows_recent_refusals(admin_client, idp):
    admin_client.get("/sso/acme/acs/complete/?k=nope")

    response = admin_client.get(f"/admin/sso/identityprovider/{idp.pk}/change/")

    body = response.content.decode()
    assert response.status_code == 200
    assert "Recent refusals" in body
    assert "the posted response was already processed (or never posted)" in body
    flow = LoginFlow.objects.get()
    assert f'href="/admin/sso/loginflow/{flow.pk}/change/"' in body


def test_admin_sp_key_page_never_shows_the_private_key(admin_client):
    signing_key_pair()
    from sso.models import SPKey

    key = SPKey.objects.get()
    response = admin_client.get(f"/admin/sso/spkey/{key.pk}/change/")

    body = response.content.decode()
    assert response.status_code == 200
    assert "BEGIN CERTIFICATE" in body
    assert key.private_key_encrypted not in body
    assert "PRIVATE KEY" not in body
    assert admin_client.get("/admin/sso/spkey/add/").status_code == 403


@pytest.mark.parametrize(
    "path",
    ["/admin/sso/samlidentity/", "/admin/sso/samlsession/", "/admin/sso/identityprovider/add/"],
)
def test_admin_lists_render(admin_client, path):
    assert admin_client.get(path).status_code == 200
