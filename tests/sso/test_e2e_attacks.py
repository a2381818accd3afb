"""Every bad input of SAML_SECURITY.md, made by the pysaml2 peer and posted to the real
ACS: a 4xx, no session, and an audit event with the reason code from sso/refusals.py."""

from __future__ import annotations

import base64
import datetime as dt
import time

import pytest

from sso.models import LoginFlow
from sso.refusals import RefusalReason
from tests.factories import UserFactory
from tests.sso import idp_peer as attacks
from tests.sso.conftest import SLUG, assert_refused, idp_update
from tests.sso.idp_peer import now, post_form
from users.models import AuditEvent, User

pytestmark = pytest.mark.django_db

ANN = "ann@example.com"
ADMIN = "admin@x.com"


def _signed(browser, **options):
    """Start a login and return (request id, a correctly signed response for ANN)."""
    started = browser.start()
    options.setdefault("in_response_to", started.request.id)
    options.setdefault("attributes", {"User.email": ANN})
    return started, browser.peer.response_xml(name_id=options.pop("name_id", ANN), **options)


def test_reason_codes_asserted_here_exist():
    used = {
        "malformed",
        "signature",
        "unsigned_assertion",
        "deprecated_algorithm",
        "audience",
        "destination",
        "recipient",
        "expired",
        "not_yet_valid",
        "replay",
        "in_response_to_unknown",
        "in_response_to_missing",
        "idp_initiated_not_allowed",
        "issuer",
        "status",
        "user_inactive",
        "jit_disabled",
    }
    assert used <= {reason.value for reason in RefusalReason}


def test_replayed_response_is_refused_the_second_time(browser, client):
    _started, xml = _signed(browser)
    assert browser.post(xml).status_code == 200
    assert browser.logged_in_user_id() is not None
    client.logout()

    # Its request ID is spent too: either check may speak first.
    assert_refused(browser.post(xml), client, {"replay", "in_response_to_unknown"})


def test_replay_into_a_fresh_login_of_another_browser_is_refused(browser, client, peer):
    from django.test import Client

    from tests.sso.conftest import Browser

    _started, xml = _signed(browser)
    assert browser.post(xml).status_code == 200
    other = Client()
    Browser(other, peer).start()

    response = other.post(f"/sso/{SLUG}/acs/", post_form(xml), follow=True)

    assert response.status_code == 400
    assert "_auth_user_id" not in other.session


def test_unsolicited_response_while_a_login_is_pending_is_refused(browser, client):
    browser.start()
    xml = browser.peer.response_xml(name_id=ANN, attributes={"User.email": ANN})

    assert_refused(browser.post(xml), client, "in_response_to_missing")


def test_replay_is_refused_even_where_idp_initiated_login_is_allowed(browser, client):
    idp_update(SLUG, allow_idp_initiated=True)
    xml = browser.peer.response_xml(name_id=ANN, attributes={"User.email": ANN})
    assert browser.post(xml).status_code == 200
    client.logout()

    assert_refused(browser.post(xml), client, "replay")


# (name, response options, expected reason) — signed correctly, wrong in one field.
SIGNED_BUT_WRONG = [
    ("foreign_audience", {"audience": "https://evil.example/sp"}, "audience"),
    ("wrong_destination", {"destination": "https://evil.example/acs/"}, "destination"),
    (
        "prefix_destination",
        {"destination": "http://testserver/sso/onelogin/acs/other/"},
        "destination",
    ),
    ("wrong_recipient", {"recipient": "https://evil.example/acs/"}, "recipient"),
    ("prefix_recipient", {"recipient": "http://testserver/sso/onelogin/acs/other/"}, "recipient"),
    ("unknown_in_response_to", {"in_response_to": "_never-issued"}, "in_response_to_unknown"),
    (
        "expired",
        {
            "issue_instant": now() - dt.timedelta(hours=2),
            "not_on_or_after": now() - dt.timedelta(hours=1),
        },
        "expired",
    ),
    (
        "not_yet_valid",
        {
            "not_before": now() + dt.timedelta(hours=1),
            "not_on_or_after": now() + dt.timedelta(hours=2),
        },
        "not_yet_valid",
    ),
    ("sha1", {"sha1": True}, "deprecated_algorithm"),
    ("sha1_response", {"sha1": True, "sign_response": True}, "deprecated_algorithm"),
    ("foreign_issuer", {"issuer": "https://evil.example/idp"}, "issuer"),
    ("idp_failure_status", {"status": "urn:oasis:names:tc:SAML:2.0:status:Requester"}, "status"),
]


@pytest.mark.parametrize(
    ("name", "options", "reason"), SIGNED_BUT_WRONG, ids=[c[0] for c in SIGNED_BUT_WRONG]
)
def test_signed_response_wrong_in_one_field_is_refused(browser, client, name, options, reason):
    _, xml = _signed(browser, **options)

    assert_refused(browser.post(xml), client, reason)
    assert not User.objects.filter(email=ANN).exists()


def test_a_response_signed_by_a_foreign_key_with_its_cert_in_keyinfo_is_refused(
    browser, client, peer_keys
):
    for signing in ({"sign_response": False}, {"sign_response": True}):
        _, xml = _signed(browser, signer=peer_keys["foreign"], **signing)
        assert_refused(browser.post(xml), client, "signature")


def test_nameid_changed_after_signing_is_refused(browser, client):
    _, xml = _signed(browser)

    assert_refused(browser.post(attacks.name_id_replace(xml, ADMIN)), client, "signature")


@pytest.mark.parametrize("sign_response", [False, True])
def test_stripped_signatures_are_refused(browser, client, sign_response):
    _, xml = _signed(browser, sign_response=sign_response)

    assert_refused(browser.post(attacks.strip_signatures(xml)), client, "signature")


def test_signature_removed_from_the_assertion_only_is_refused(browser, client):
    _, xml = _signed(browser, sign_response=True)

    assert_refused(
        browser.post(attacks.strip_assertion_signature(xml)), client, "unsigned_assertion"
    )


def test_signed_response_with_unsigned_assertion_is_refused_by_default(browser, client):
    _, xml = _signed(browser, sign_assertion=False, sign_response=True)

    assert_refused(browser.post(xml), client, "unsigned_assertion")


@pytest.mark.parametrize(
    "wrap", [attacks.xsw_evil_assertion_first, attacks.xsw_signed_assertion_moved]
)
@pytest.mark.parametrize("sign_response", [False, True])
def test_signature_wrapping_is_refused(browser, client, wrap, sign_response):
    admin = UserFactory(username="admin", email=ADMIN)
    _, xml = _signed(browser, sign_response=sign_response)

    assert_refused(browser.post(wrap(xml, ADMIN)), client, "signature")
    assert browser.logged_in_user_id() != str(admin.pk)


def test_comment_injection_in_nameid_never_logs_in_as_the_prefix(browser, client):
    admin = UserFactory(username="admin", email=ADMIN)
    idp_update(SLUG, link_by_email=True)
    _, xml = _signed(
        browser, name_id=ADMIN + ".evil.com", attributes={"User.email": ADMIN + ".evil.com"}
    )

    response = browser.post(attacks.name_id_comment_inject(xml, ADMIN))

    assert_refused(response, client, "malformed")
    assert browser.logged_in_user_id() != str(admin.pk)


@pytest.mark.parametrize("attack", [attacks.doctype_xxe, attacks.billion_laughs])
def test_doctype_and_entity_expansion_are_refused_quickly(browser, client, attack):
    _, xml = _signed(browser)
    started = time.monotonic()

    response = browser.post(attack(xml))

    assert time.monotonic() - started < 5
    assert_refused(response, client, "malformed")
    assert b"root:" not in response.content


@pytest.mark.parametrize(
    "payload",
    [
        "%%%not-base64%%%",
        base64.b64encode(b"this is not xml at all").decode(),
        base64.b64encode(b"<unclosed><xml>").decode(),
        base64.b64encode(b"\x00\xff\xfe binary").decode(),
        "",
    ],
    ids=["garbage_base64", "not_xml", "broken_xml", "binary", "empty"],
)
def test_garbage_is_refused_as_malformed(browser, client, payload):
    browser.start()

    response = client.post(browser.acs, {"SAMLResponse": payload}, follow=True)

    assert_refused(response, client, "malformed")


def test_missing_samlresponse_field_is_a_4xx(browser, client):
    response = client.post(browser.acs, {"RelayState": "/"}, follow=True)

    assert response.status_code == 400
    assert "_auth_user_id" not in client.session


def test_oversize_post_is_refused_without_a_500(browser, client):
    browser.start()
    huge = base64.b64encode(b"<a>" + b"x" * (3 * 1024 * 1024) + b"</a>").decode()

    response = client.post(browser.acs, {"SAMLResponse": huge}, follow=True)

    assert_refused(response, client, "malformed")


def test_get_on_the_acs_is_not_a_login(browser, client):
    response = client.get(browser.acs, follow=True)

    assert response.status_code == 405
    assert "_auth_user_id" not in client.session


def test_the_refusal_page_shows_a_reason_and_reference_but_not_the_assertion(browser, client):
    _, xml = _signed(browser, audience="https://evil.example/sp")

    response = browser.post(xml)

    event = assert_refused(response, client, "audience")
    page = response.content.decode()
    assert ANN not in page
    assert "Assertion" not in page
    assert event.detail["reference"] in page
    assert AuditEvent.objects.filter(action="saml.login").count() == 0


def test_a_response_for_another_browsers_request_is_refused(browser, client, peer):
    from django.test import Client

    from tests.sso.conftest import Browser

    other = Browser(Client(), peer)
    theirs = other.start()
    browser.start()
    xml = peer.response_xml(
        name_id=ANN, in_response_to=theirs.request.id, attributes={"User.email": ANN}
    )

    assert_refused(browser.post(xml), client, "in_response_to_unknown")


def test_request_id_is_consumed_once(browser, client):
    started, first = _signed(browser)
    assert browser.post(first).status_code == 200
    client.logout()
    second = browser.peer.response_xml(
        name_id=ANN, in_response_to=started.request.id, attributes={"User.email": ANN}
    )

    assert_refused(browser.post(second), client, "in_response_to_unknown")


@pytest.mark.django_db(transaction=True)
def test_the_same_response_raced_by_two_browsers_logs_in_exactly_once(peer, transactional_db):
    """The replay store is shared by every web process: two browsers completing the same
    assertion at the same moment (two threads, two database connections) get one login."""
    import threading

    from django.db import connection
    from django.test import Client

    idp_update(SLUG, allow_idp_initiated=True)
    xml = peer.response_xml(name_id=ANN, attributes={"User.email": ANN})
    clients = [Client(), Client()]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    # An allowed IdP-initiated response needs no browser binding: the ACS POST itself
    # completes it, so the two browsers race their POSTs.
    def complete(client) -> None:
        try:
            barrier.wait(timeout=10)
            statuses.append(client.post(f"/sso/{SLUG}/acs/", post_form(xml)).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=complete, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(statuses) == [303, 400]
    assert sum("_auth_user_id" in c.session for c in clients) == 1
    assert AuditEvent.objects.filter(action="saml.login").count() == 1
    assert LoginFlow.objects.get(outcome="refused").reason == "replay"
    assert User.objects.filter(email=ANN).count() == 1
