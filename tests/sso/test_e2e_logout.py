"""Single logout both ways against the pysaml2 peer, and the bad logout messages."""

from __future__ import annotations

import time

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from sso.models import SamlSession
from tests.sso.conftest import SLUG, Browser
from tests.sso.idp_peer import deflate_bomb, query_param, redirect_url
from users.models import AuditEvent

pytestmark = pytest.mark.django_db

ANN = "ann@example.com"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
ME = "/api/v1/me/"


def _logged_in(peer, name_id: str = ANN) -> tuple[Client, str, SamlSession]:
    client = Client()
    browser = Browser(client, peer)
    response = browser.login(name_id)
    assert response.status_code == 200
    key = client.session.session_key
    return client, key, SamlSession.objects.get(session_key=key)


def _alive(key: str) -> bool:
    return Session.objects.filter(session_key=key).exists()


def _logout_refusal() -> AuditEvent:
    events = AuditEvent.objects.filter(
        action="saml.logout_refused", target_type="identityprovider", target_id=SLUG
    ).order_by("-id")
    assert events.exists()
    return events[0]


def test_sp_initiated_logout_sends_a_signed_request_and_handles_the_response(peer):
    client, key, saml_session = _logged_in(peer)

    start = client.post(f"/sso/{SLUG}/logout/")

    assert start.status_code == 302
    request = peer.logout_request_read(start["Location"])
    assert request.signed_by is not None, "the LogoutRequest must be signed"
    root = request.root
    ns = {
        "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
        "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    }
    assert root.findtext("saml:NameID", namespaces=ns) == ANN
    assert root.findtext("samlp:SessionIndex", namespaces=ns) == saml_session.session_index
    assert root.get("Destination") == peer.slo_url

    done = client.get(peer.logout_response_url(request), follow=True)

    assert done.status_code == 200
    assert "_auth_user_id" not in client.session
    assert not _alive(key)
    assert client.get(ME).status_code == 401


def test_logout_response_with_failure_status_still_ends_the_local_session(peer):
    client, key, _ = _logged_in(peer)
    request = peer.logout_request_read(client.post(f"/sso/{SLUG}/logout/")["Location"])

    client.get(
        peer.logout_response_url(request, status="urn:oasis:names:tc:SAML:2.0:status:Responder")
    )

    assert "_auth_user_id" not in client.session
    assert not _alive(key)


def test_unsigned_logout_response_is_refused(peer):
    client, _key, _ = _logged_in(peer)
    request = peer.logout_request_read(client.post(f"/sso/{SLUG}/logout/")["Location"])

    response = client.get(peer.logout_response_url(request, signed=False))

    assert response.status_code == 400
    assert _logout_refusal().detail["reason"] == "signature"


def test_idp_initiated_logout_ends_the_sessions_of_that_session_index(peer):
    first, first_key, first_session = _logged_in(peer)
    second, second_key, _ = _logged_in(peer)
    assert first_key != second_key

    # Delivered through a browser without the SP's cookie: the SP must end the session
    # server-side, by the SessionIndex it recorded at login.
    url = peer.logout_request_url(
        name_id=ANN, session_index=first_session.session_index, relay_state="r1"
    )
    response = Client().get(url)

    assert response.status_code == 302
    answer = peer.logout_response_read(response["Location"])
    assert response["Location"].startswith(peer.slo_url + "?")
    assert answer.signed_by is not None, "the LogoutResponse must be signed"
    assert answer.root.get("InResponseTo") == peer.last_logout_request_id
    status = answer.root.find(
        "{urn:oasis:names:tc:SAML:2.0:protocol}Status/{urn:oasis:names:tc:SAML:2.0:protocol}StatusCode"
    )
    assert status is not None
    assert status.get("Value") == SUCCESS
    assert answer.relay_state == "r1"
    assert not _alive(first_key)
    assert first.get(ME).status_code == 401
    assert _alive(second_key)
    assert second.get(ME).status_code == 200
    assert not SamlSession.objects.filter(session_key=first_key).exists()


def test_idp_initiated_logout_without_session_index_ends_every_session_of_the_user(peer):
    _first, first_key, _ = _logged_in(peer)
    _second, second_key, _ = _logged_in(peer)
    bystander, bystander_key, _ = _logged_in(peer, "bob@example.com")

    response = Client().get(peer.logout_request_url(name_id=ANN))

    assert response.status_code == 302
    assert peer.logout_response_read(response["Location"]).signed_by is not None
    assert not _alive(first_key)
    assert not _alive(second_key)
    assert _alive(bystander_key)
    assert bystander.get(ME).status_code == 200


def test_idp_initiated_logout_over_the_post_binding_ends_the_session(peer):
    client, key, saml_session = _logged_in(peer)
    fields = peer.logout_request_post(name_id=ANN, session_index=saml_session.session_index)

    response = Client().post(f"/sso/{SLUG}/sls/", fields)

    assert response.status_code == 302
    assert not _alive(key)
    assert client.get(ME).status_code == 401
    assert not AuditEvent.objects.filter(action="saml.logout_refused").exists()


@pytest.mark.parametrize("variant", ["unsigned", "foreign", "tampered"])
def test_bad_post_binding_logout_request_is_refused_and_ends_nothing(peer, peer_keys, variant):
    import base64

    client, key, saml_session = _logged_in(peer)
    fields = peer.logout_request_post(
        name_id=ANN,
        session_index=saml_session.session_index,
        signed=variant != "unsigned",
        signer=peer_keys["foreign"] if variant == "foreign" else None,
    )
    if variant == "tampered":
        xml = base64.b64decode(fields["SAMLRequest"]).decode()
        fields["SAMLRequest"] = base64.b64encode(
            xml.replace(ANN, "bob@example.com").encode()
        ).decode()

    response = Client().post(f"/sso/{SLUG}/sls/", fields)

    assert response.status_code == 400
    assert _alive(key)
    assert client.get(ME).status_code == 200
    assert _logout_refusal().detail["reason"] == "signature"


def test_unsigned_idp_logout_request_is_refused_and_ends_nothing(peer):
    client, key, saml_session = _logged_in(peer)

    response = Client().get(
        peer.logout_request_url(name_id=ANN, session_index=saml_session.session_index, signed=False)
    )

    assert response.status_code == 400
    assert _alive(key)
    assert client.get(ME).status_code == 200
    assert _logout_refusal().detail["reason"] == "signature"


def test_idp_logout_request_signed_by_a_foreign_key_is_refused(peer, peer_keys):
    _client, key, _ = _logged_in(peer)

    response = Client().get(peer.logout_request_url(name_id=ANN, signer=peer_keys["foreign"]))

    assert response.status_code == 400
    assert _alive(key)
    assert _logout_refusal().detail["reason"] == "signature"


def test_deflate_bomb_on_the_redirect_binding_is_refused_quickly(peer):
    _client, key, _ = _logged_in(peer)
    bomb = deflate_bomb(megabytes=64)
    assert len(bomb) < 200_000  # small on the wire, 64 MB inflated
    url = redirect_url(
        f"http://testserver/sso/{SLUG}/sls/",
        kind="SAMLRequest",
        xml="",
        key=peer.key,
        raw_payload=bomb,
    )
    started = time.monotonic()

    response = Client().get(url)

    assert time.monotonic() - started < 5
    assert response.status_code == 400
    assert _alive(key)
    assert _logout_refusal().detail["reason"] == "malformed"


@pytest.mark.parametrize(
    "query",
    ["SAMLRequest=%%%garbage", "SAMLRequest=" + "A" * 20, "SAMLResponse=bm90IGRlZmxhdGVk", ""],
    ids=["garbage", "not_deflate", "response_not_deflate", "nothing"],
)
def test_garbage_on_the_sls_is_a_4xx(peer, query):
    response = Client().get(f"/sso/{SLUG}/sls/?{query}")

    assert response.status_code == 400


def test_oversize_redirect_query_is_refused(peer):
    response = Client().get(f"/sso/{SLUG}/sls/?SAMLRequest=" + "A" * 200_000)

    assert response.status_code == 400


def test_logout_when_not_logged_in_does_not_fail(peer, client):
    response = client.post(f"/sso/{SLUG}/logout/")

    assert response.status_code == 302
    assert query_param(response["Location"], "SAMLRequest") is None
