"""The per-IdP ACS rate limit (issue 15, item 1): a 429 refusal page past the bound."""

from __future__ import annotations

import pytest

from tests.sso.conftest import SLUG

pytestmark = pytest.mark.django_db


def test_an_idps_acs_over_its_rate_is_a_429_refusal_page(peer, client, settings):
    settings.SAML_ACS_RATE_LIMIT_PER_MINUTE = 2

    answers = [client.post(f"/sso/{SLUG}/acs/", {"SAMLResponse": "garbage"}) for _ in range(3)]

    assert [a.status_code for a in answers] == [400, 400, 429]
    assert "Too many sign-ins are arriving right now" in answers[-1].content.decode()
