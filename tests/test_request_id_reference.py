"""The support reference is ours, not the client's (issue 8, finding 19)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_a_client_chosen_request_id_never_becomes_the_support_reference(client, caplog):
    # Issue 8, finding 19: a forged X-Request-ID could make a refusal page (and its log
    # line) quote a reference of the attacker's choosing, e.g. another person's.
    response = client.get("/sso/nobody/login/", HTTP_X_REQUEST_ID="victims-reference-1234")

    record = next(r for r in caplog.records if r.getMessage().startswith("SAML message refused"))
    assert "victims-reference-1234" not in response.content.decode()
    assert response["X-Request-ID"] == record.reference != "victims-reference-1234"
    assert record.reference in response.content.decode()


def test_a_trusted_proxy_request_id_is_the_support_reference(client, settings):
    settings.TRUST_REQUEST_ID_HEADER = True

    response = client.get("/sso/nobody/login/", HTTP_X_REQUEST_ID="proxy-reference-1234")

    assert "proxy-reference-1234" in response.content.decode()
