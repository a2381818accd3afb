"""Property-based test (issue 15, item 7): whatever arrives at the ACS or the SLS, the
answer is a 4xx refusal page, never a 5xx."""

from __future__ import annotations

import base64

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sso.conftest import SLUG

pytestmark = pytest.mark.django_db

XML_PARTS = st.sampled_from(
    [
        '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"',
        ' xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"', ' ID="_1"', ' Version="2.0"',
        ' IssueInstant="2026-12-06T10:00:00Z"', ' IssueInstant="9999-12-31T23:59:59Z"', ">",
        "<saml:Issuer>https://idp.example.test/saml/metadata</saml:Issuer>", "<saml:Issuer/>",
        '<samlp:Status><samlp:StatusCode Value=""/></samlp:Status>', "<saml:Assertion>",
        "</saml:Assertion>", "<saml:EncryptedAssertion/>", "</samlp:Response>", "<!--x-->",
        "<!DOCTYPE x>", "&amp;", "\x00", "\ud800",
    ]
)  # fmt: skip
MESSAGES = st.one_of(
    st.binary(max_size=300),
    st.lists(XML_PARTS, max_size=14).map(lambda parts: "".join(parts).encode("utf-8", "replace")),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(message=MESSAGES, encode=st.booleans(), relay=st.text(max_size=30))
def test_anything_posted_to_the_acs_or_sls_is_refused_with_a_4xx(
    peer, client, message, encode, relay
):
    value = base64.b64encode(message).decode() if encode else message.decode("latin-1")
    for url in (f"/sso/{SLUG}/acs/", f"/sso/{SLUG}/sls/"):
        response = client.post(url, {"SAMLResponse": value, "RelayState": relay})

        assert 400 <= response.status_code < 500, (url, response.status_code)
