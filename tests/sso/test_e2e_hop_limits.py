"""Disk filling through the ACS (issue 8, finding 5). On an http site the IdP's POST
arrives without the Lax binding cookie, so the ACS parks the response for the browser's
same-site hop. Whoever posts there is anonymous: an unsigned or foreign ~680 KB POST was
parked before any check, as often as a client liked. Now nothing is parked before the
cheap checks and a tighter size cap, and parked rows are capped per client and per IdP."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from sso import hop
from sso.browser_binding import COOKIE_NAME
from sso.models import PendingResponse
from tests.sso import idp_peer as attacks
from tests.sso.conftest import SLUG, assert_refused
from tests.sso.idp_peer import post_form

pytestmark = pytest.mark.django_db

ANN = "ann@example.com"
ACS = f"/sso/{SLUG}/acs/"
HOP = f"/sso/{SLUG}/acs/complete/?k="
# Well under the park cap, so the size is not what refuses it.
PADDING = {"User.email": ANN, "padding": "x" * 90_000}


def _signed_for(browser, **options) -> str:
    """A correctly signed response answering a login started by the browser, whose
    binding cookie then stays behind as a Lax cookie does on the IdP's POST."""
    started = browser.start()
    browser.client.cookies.pop(COOKIE_NAME)
    options.setdefault("attributes", {"User.email": ANN})
    return browser.peer.response_xml(name_id=ANN, in_response_to=started.request.id, **options)


def _post(client, xml: str, address: str = "198.51.100.7"):
    return client.post(ACS, post_form(xml), REMOTE_ADDR=address)


def test_an_unsigned_large_post_is_refused_and_parks_nothing(browser, client):
    xml = attacks.strip_signatures(_signed_for(browser, attributes=PADDING))

    response = _post(client, xml)

    assert_refused(response, client, "signature")
    assert PendingResponse.objects.count() == 0


def test_a_post_naming_another_issuer_is_refused_and_parks_nothing(browser, client):
    xml = _signed_for(browser, attributes=PADDING, issuer="https://evil.example/idp")

    response = _post(client, xml)

    assert_refused(response, client, "issuer")
    assert PendingResponse.objects.count() == 0


def test_a_response_too_large_to_park_is_refused_even_when_signed(browser, client):
    # The review's POST: ~680 KB of form data, ~510 KB of XML.
    xml = _signed_for(browser, attributes={"User.email": ANN, "padding": "x" * 500_000})

    response = _post(client, xml)

    event = assert_refused(response, client, "malformed")
    assert "larger than 131072" in event.detail["message"]
    assert PendingResponse.objects.count() == 0


def test_one_client_flooding_the_hop_is_refused_beyond_its_cap(browser, client):
    xml = _signed_for(browser)

    statuses = [_post(client, xml).status_code for _ in range(hop.MAX_PENDING_PER_CLIENT + 3)]

    assert statuses == [303] * hop.MAX_PENDING_PER_CLIENT + [429] * 3
    assert PendingResponse.objects.count() == hop.MAX_PENDING_PER_CLIENT
    assert_refused(_post(client, xml), client, "too_many_pending", status=429)
    # Another client is not held up by this one.
    assert _post(client, xml, address="203.0.113.9").status_code == 303


def test_many_clients_flooding_one_idp_are_refused_beyond_its_cap(browser, client, monkeypatch):
    monkeypatch.setattr(hop, "MAX_PENDING_PER_IDP", 4)
    xml = _signed_for(browser)

    statuses = [_post(client, xml, address=f"192.0.2.{n}").status_code for n in range(7)]

    assert statuses == [303] * 4 + [429] * 3
    assert PendingResponse.objects.count() == 4


def test_parking_deletes_what_expired_and_the_hop_deletes_what_it_takes(browser, client):
    xml = _signed_for(browser)
    for _ in range(3):
        assert _post(client, xml).status_code == 303
    PendingResponse.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    location = _post(client, xml)["Location"]

    assert PendingResponse.objects.count() == 1
    client.get(location)
    assert PendingResponse.objects.count() == 0


def test_a_well_formed_response_still_parks_and_completes_at_the_hop(browser, client):
    started = browser.start(next_path="/api/v1/me/")
    binding = client.cookies.pop(COOKIE_NAME)
    xml = browser.peer.response_xml(
        name_id=ANN, in_response_to=started.request.id, attributes={"User.email": ANN}
    )

    posted = client.post(ACS, post_form(xml, started.request.relay_state))

    assert posted.status_code == 303
    assert posted["Location"].startswith(HOP)
    assert PendingResponse.objects.get().client == "127.0.0.1"
    client.cookies[COOKIE_NAME] = binding.value
    assert client.get(posted["Location"])["Location"] == "/api/v1/me/"
    assert browser.logged_in_user_id() is not None
