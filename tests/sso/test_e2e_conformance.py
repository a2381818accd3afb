"""What an SP conformance suite and the security review sent to the real ACS, signed by
the pysaml2 peer: odd shapes of a correctly signed response (empty status, empty issuer,
another SAML version, a non-bearer confirmation, no audience), assertions that never
expire or are too old, absurd dates, and an unsolicited assertion relabelled as solicited
in its unsigned envelope. Each is a 4xx with its reason code, never a session and never
a 500; each shape is tried in the clear and inside an EncryptedAssertion, whose
decrypted document gets every check a plaintext one gets."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from sso.models import OutstandingRequest, SeenAssertion
from tests.sso.conftest import assert_refused, identity_user, idp_update
from tests.sso.idp_peer import OddShape, in_response_to_on_envelope, now
from users.models import AuditEvent, User

pytestmark = pytest.mark.django_db

ANN = "ann@example.com"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
HOLDER_OF_KEY = "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"
# In the clear, and encrypted as IdPs with encryption on send it (OneLogin's "Both":
# the assertion signed, then encrypted, then the Response signed).
TRANSPORTS = {"plain": {}, "encrypted": {"encrypt": True, "sign_response": True}}


def _post(browser, **options):
    """Start a login and post a response for ANN answering it, shaped by options."""
    started = browser.start()
    options.setdefault("in_response_to", started.request.id)
    xml = browser.peer.response_xml(name_id=ANN, attributes={"User.email": ANN}, **options)
    return browser.post(xml, started.request.relay_state)


# (name, response options, reason): each accepted with a session before the fix.
ODD_SHAPES = [
    ("empty_status_code", {"status": ""}, "malformed"),
    ("empty_response_issuer", {"odd": OddShape(response_issuer="")}, "issuer"),
    ("assertion_version_1_1", {"odd": OddShape(assertion_version="1.1")}, "malformed"),
    ("assertion_version_empty", {"odd": OddShape(assertion_version="")}, "malformed"),
    (
        "empty_confirmation_method",
        {"odd": OddShape(confirmation_method="")},
        "subject_confirmation",
    ),
    (
        "holder_of_key_confirmation",
        {"odd": OddShape(confirmation_method=HOLDER_OF_KEY)},
        "subject_confirmation",
    ),
    ("no_audience_restriction", {"odd": OddShape(audience_restriction=False)}, "audience"),
    ("empty_audience", {"audience": ""}, "audience"),
    ("no_not_on_or_after", {"odd": OddShape(not_on_or_after="")}, "no_expiry"),
    (
        "issued_two_hours_ago",
        {
            "issue_instant": now() - dt.timedelta(hours=2),
            "not_before": now() - dt.timedelta(hours=2),
            "not_on_or_after": now() + dt.timedelta(minutes=5),
        },
        "expired",
    ),
    (
        "issued_in_the_future",
        {"odd": OddShape(assertion_issue_instant="2999-01-01T00:00:00Z")},
        "not_yet_valid",
    ),
    (
        "not_on_or_after_year_0001",
        {"odd": OddShape(not_on_or_after="0001-01-01T00:00:00Z")},
        "expired",
    ),
    ("not_on_or_after_garbage", {"odd": OddShape(not_on_or_after="tomorrow-ish")}, "malformed"),
    (
        "not_on_or_after_year_10000",
        {"odd": OddShape(not_on_or_after="10000-01-01T00:00:00Z")},
        "malformed",
    ),
    (
        "issue_instant_year_0001",
        {"odd": OddShape(assertion_issue_instant="0001-01-01T00:00:00Z")},
        "expired",
    ),
    ("issue_instant_garbage", {"odd": OddShape(assertion_issue_instant="yesterday")}, "malformed"),
]


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("name", "options", "reason"), ODD_SHAPES, ids=[case[0] for case in ODD_SHAPES]
)
def test_a_signed_response_of_an_odd_shape_is_refused(
    browser, client, name, options, reason, transport
):
    response = _post(browser, **TRANSPORTS[transport], **options)

    assert_refused(response, client, reason)
    assert not User.objects.filter(email=ANN).exists()


@pytest.mark.parametrize(
    "options",
    [{}, {"encrypt": True}, {"encrypt": True, "sign_response": True}],
    ids=["plain", "encrypted_signed_assertion", "encrypted_both_signed"],
)
def test_an_ordinary_response_logs_in_plain_or_encrypted(browser, client, options):
    response = _post(browser, **options)

    assert response.status_code == 200, response.content[:500]
    assert browser.logged_in_user_id() == str(identity_user(ANN).pk)


def test_a_bearer_confirmation_beside_another_method_is_enough(browser, client):
    # Other confirmation methods may stand beside the bearer one (SAML profiles §4.1.4.2).
    response = _post(browser, odd=OddShape(extra_confirmation_method=HOLDER_OF_KEY))

    assert response.status_code == 200, response.content[:500]
    assert browser.logged_in_user_id() is not None


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_not_on_or_after_in_year_9999_logs_in_and_is_remembered_for_a_bounded_time(
    browser, client, transport
):
    year_9999 = OddShape(not_on_or_after="9999-12-31T23:59:59Z")
    response = _post(browser, **TRANSPORTS[transport], odd=year_9999)

    assert response.status_code == 200, response.content[:500]
    remembered = SeenAssertion.objects.get().expires_at
    # Until the assertion is too old to be accepted (its IssueInstant bounds it).
    assert remembered < timezone.now() + dt.timedelta(hours=1)


def test_an_assertion_without_not_on_or_after_is_never_remembered_for_a_day(browser, client):
    _post(browser, odd=OddShape(not_on_or_after=""))

    assert not SeenAssertion.objects.exists()


def test_an_unsolicited_assertion_relabelled_in_its_unsigned_envelope_is_unsolicited(
    browser, client
):
    # IdP-initiated login is off; the attacker holds a signed IdP-initiated assertion
    # and starts a login of their own to have a real outstanding request ID.
    started = browser.start()
    unsolicited = browser.peer.response_xml(name_id=ANN, attributes={"User.email": ANN})
    relabelled = in_response_to_on_envelope(unsolicited, started.request.id)

    response = browser.post(relabelled, started.request.relay_state)

    assert_refused(
        response,
        client,
        {"in_response_to_missing", "idp_initiated_not_allowed"},
        status=response.status_code,
    )
    assert response.status_code in (400, 403)
    assert not User.objects.filter(email=ANN).exists()


def test_the_relabelled_assertion_is_refused_where_idp_initiated_login_is_off_in_any_browser(
    browser, client, peer
):
    from django.test import Client

    from tests.sso.conftest import Browser

    # A browser with no login pending: the same assertion is plainly unsolicited.
    other = Browser(Client(), peer)
    theirs = other.start()
    unsolicited = peer.response_xml(name_id=ANN, attributes={"User.email": ANN})
    relabelled = in_response_to_on_envelope(unsolicited, theirs.request.id)

    response = browser.post(relabelled)

    assert_refused(response, client, "idp_initiated_not_allowed", status=403)


def test_a_signed_envelope_carries_the_in_response_to_that_counts(browser, client):
    # When the Response itself is signed, its InResponseTo is covered by a signature.
    response = _post(browser, sign_response=True, odd=OddShape(confirmation_in_response_to=""))

    assert response.status_code == 200, response.content[:500]
    assert browser.logged_in_user_id() is not None


def test_a_signed_assertion_naming_the_request_logs_in_with_an_unsigned_envelope(browser, client):
    response = _post(browser)  # the assertion is signed, the Response is not

    assert response.status_code == 200, response.content[:500]


def test_a_relabelled_envelope_counts_as_idp_initiated_where_that_is_allowed(browser, client):
    # Relabelled, the assertion still names no request of its own: it logs in as what it
    # is, and no request of this browser is consumed for it.
    idp_update("onelogin", allow_idp_initiated=True)
    started = browser.start()
    unsolicited = browser.peer.response_xml(name_id=ANN, attributes={"User.email": ANN})

    response = browser.post(in_response_to_on_envelope(unsolicited, started.request.id))

    assert response.status_code == 200, response.content[:500]
    login = AuditEvent.objects.get(action="saml.login")
    assert login.detail["idp_initiated"] is True
    assert OutstandingRequest.objects.filter(request_id=started.request.id).exists()
