"""Forged and replayed single-logout messages against /sls/ (issue 8, findings 1, 2, 9):
whoever holds one signed message from the IdP must not end anyone else's sessions, and
a captured logout URL must not end its person's later sessions."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from tests.sso.conftest import SLUG, Browser, refusal
from tests.sso.idp_peer import now, redirect_url
from tests.sso.idp_peer.logout_attacks import (
    logout_request_xml,
    post_fields,
    signature_transplant,
    smuggled_parameter,
)

pytestmark = pytest.mark.django_db

VICTIM = "ann@example.com"
ATTACKER = "mallory@example.com"
ME = "/api/v1/me/"
SLS = f"/sso/{SLUG}/sls/"


def _logged_in(peer, name_id: str = VICTIM) -> tuple[Client, str]:
    client = Client()
    assert Browser(client, peer).login(name_id).status_code == 200
    return client, client.session.session_key


def _assert_refused_and_alive(response, victim: Client, key: str, reasons: set[str]) -> None:
    assert response.status_code == 400, response.content[:500]
    assert refusal(action="saml.logout_refused").detail["reason"] in reasons
    assert Session.objects.filter(session_key=key).exists()
    assert victim.get(ME).status_code == 200


def _signed_logout_url(peer, xml: str) -> str:
    """A LogoutRequest the IdP itself signed (Redirect binding)."""
    return redirect_url(peer.sp.sls_url, kind="SAMLRequest", xml=xml, key=peer.key)


# -- finding 1: HTTP-POST, a signature transplanted from the attacker's assertion ----------


@pytest.mark.parametrize(
    ("reuse_assertion_id", "why"),
    [(False, "not the message's ID"), (True, "is not unique in the message")],
    ids=["own_id", "assertion_id"],
)
def test_assertion_signature_moved_onto_a_post_logout_request_ends_nothing(
    peer, reuse_assertion_id, why
):
    victim, key = _logged_in(peer)
    _logged_in(peer, ATTACKER)
    forged = signature_transplant(
        peer.response_xml(name_id=ATTACKER),  # genuinely IdP-signed, about the attacker
        issuer=peer.entity_id,
        destination=peer.sp.sls_url,
        victim=VICTIM,
        reuse_assertion_id=reuse_assertion_id,
    )

    response = Client().post(SLS, post_fields(forged))

    _assert_refused_and_alive(response, victim, key, {"signature"})
    assert why in refusal(action="saml.logout_refused").detail["message"]


# -- finding 2: HTTP-Redirect, a second message smuggled after a signed one ---------------


@pytest.mark.parametrize("name", ["SAML%52equest", "SAMLRequest", "SAMLR%65quest"])
def test_message_appended_to_a_signed_logout_url_ends_nothing(peer, name):
    victim, key = _logged_in(peer)
    _attacker, attacker_key = _logged_in(peer, ATTACKER)
    signed = peer.logout_request_url(name_id=ATTACKER)  # the attacker's own, signed
    forged = logout_request_xml(issuer=peer.entity_id, destination=peer.sp.sls_url, name_id=VICTIM)

    response = Client().get(smuggled_parameter(signed, forged, name=name))

    _assert_refused_and_alive(response, victim, key, {"malformed"})
    assert Session.objects.filter(session_key=attacker_key).exists()


@pytest.mark.parametrize(
    "extra", ["&Relay%53tate=x", "&RelayState=x&RelayState=y", "&Foo=1", "&samlrequest=x"]
)
def test_unexpected_or_encoded_parameters_on_a_signed_logout_url_are_refused(peer, extra):
    victim, key = _logged_in(peer)

    response = Client().get(peer.logout_request_url(name_id=VICTIM) + extra)

    _assert_refused_and_alive(response, victim, key, {"malformed"})


def test_signed_logout_url_acts_on_the_verified_message(peer):
    """The same message with its parameters in another order still works: the signed
    string is rebuilt from the raw parts in the order the binding defines."""
    victim, key = _logged_in(peer)
    url = peer.logout_request_url(name_id=VICTIM, relay_state="r1")
    base, query = url.split("?", 1)

    response = Client().get(base + "?" + "&".join(reversed(query.split("&"))))

    assert response.status_code == 302
    assert not Session.objects.filter(session_key=key).exists()
    assert victim.get(ME).status_code == 401


# -- finding 9: replay and age ------------------------------------------------------------


def test_a_captured_logout_url_works_once(peer):
    _first, first_key = _logged_in(peer)
    url = peer.logout_request_url(name_id=VICTIM)
    assert Client().get(url).status_code == 302
    assert not Session.objects.filter(session_key=first_key).exists()
    later, later_key = _logged_in(peer)

    response = Client().get(url)

    _assert_refused_and_alive(response, later, later_key, {"logout_replay"})


def test_a_replayed_post_logout_request_is_refused(peer):
    _first, _ = _logged_in(peer)
    fields = peer.logout_request_post(name_id=VICTIM)
    assert Client().post(SLS, fields).status_code == 302
    later, later_key = _logged_in(peer)

    response = Client().post(SLS, fields)

    _assert_refused_and_alive(response, later, later_key, {"logout_replay"})


@pytest.mark.parametrize(
    ("shift", "reason"),
    [
        (dt.timedelta(minutes=-30), "expired"),
        (dt.timedelta(days=-400), "expired"),
        (dt.timedelta(minutes=30), "not_yet_valid"),
    ],
    ids=["half_an_hour_old", "a_year_old", "from_the_future"],
)
def test_a_logout_request_outside_the_time_window_is_refused(peer, shift, reason):
    victim, key = _logged_in(peer)
    xml = logout_request_xml(
        issuer=peer.entity_id,
        destination=peer.sp.sls_url,
        name_id=VICTIM,
        issue_instant=now() + shift,
    )

    response = Client().get(_signed_logout_url(peer, xml))

    _assert_refused_and_alive(response, victim, key, {reason})


def test_a_logout_request_past_its_not_on_or_after_is_refused(peer):
    victim, key = _logged_in(peer)
    xml = logout_request_xml(
        issuer=peer.entity_id,
        destination=peer.sp.sls_url,
        name_id=VICTIM,
        issue_instant=now() - dt.timedelta(seconds=60),
        not_on_or_after=now() - dt.timedelta(seconds=30),
    )

    response = Client().get(_signed_logout_url(peer, xml))

    _assert_refused_and_alive(response, victim, key, {"expired"})


def test_a_fresh_signed_logout_request_within_the_window_is_accepted(peer):
    victim, key = _logged_in(peer)
    xml = logout_request_xml(
        issuer=peer.entity_id,
        destination=peer.sp.sls_url,
        name_id=VICTIM,
        issue_instant=now() - dt.timedelta(minutes=2),
    )

    response = Client().get(_signed_logout_url(peer, xml))

    assert response.status_code == 302
    assert not Session.objects.filter(session_key=key).exists()
    assert victim.get(ME).status_code == 401


# -- finding 11: a cross-site link to the logout URL ---------------------------------------

LOGOUT = f"/sso/{SLUG}/logout/"


def _logged_in_with_csrf_checks(peer) -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True)
    assert Browser(client, peer).login(VICTIM).status_code == 200
    return client, client.session.session_key


def test_a_get_of_the_logout_url_only_asks(peer):
    client, key = _logged_in_with_csrf_checks(peer)

    page = client.get(LOGOUT)

    assert page.status_code == 200
    body = page.content.decode()
    assert f'<form method="post" action="{LOGOUT}">' in body
    assert 'name="csrfmiddlewaretoken"' in body
    assert Session.objects.filter(session_key=key).exists()
    assert client.get(ME).status_code == 200


def test_a_logout_post_without_the_csrf_token_is_forbidden(peer):
    client, key = _logged_in_with_csrf_checks(peer)

    response = client.post(LOGOUT)

    assert response.status_code == 403
    assert Session.objects.filter(session_key=key).exists()
    assert client.get(ME).status_code == 200


def test_the_confirmed_logout_signs_out_and_goes_to_the_idp(peer):
    client, key = _logged_in_with_csrf_checks(peer)
    page = client.get(LOGOUT).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None

    response = client.post(LOGOUT, {"csrfmiddlewaretoken": token.group(1)})

    assert response.status_code == 302
    assert peer.logout_request_read(response["Location"]).signed_by is not None
    assert not Session.objects.filter(session_key=key).exists()
    assert client.get(ME).status_code == 401


def test_a_far_future_not_on_or_after_neither_fails_nor_extends_the_window(peer):
    _victim, key = _logged_in(peer)
    xml = logout_request_xml(
        issuer=peer.entity_id,
        destination=peer.sp.sls_url,
        name_id=VICTIM,
        not_on_or_after=dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC),
    )
    url = _signed_logout_url(peer, xml)

    assert Client().get(url).status_code == 302
    assert not Session.objects.filter(session_key=key).exists()
    later, later_key = _logged_in(peer)
    _assert_refused_and_alive(Client().get(url), later, later_key, {"logout_replay"})
