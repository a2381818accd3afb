"""The statements of a SCIM create that BENCHMARKS.md ("POST /Users against django-scim2")
measured: the bearer-token and pending-report probes written by hand (each saves the
ORM's compilation on every request; the pending-report probe rides in the user's
INSERT), and no custom-field definitions query when the create carries no custom value."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def test_a_create_runs_the_hand_written_probes_once_and_no_definitions_query(scim):
    scim.get("/ServiceProviderConfig")  # the token's use this minute is recorded already
    body = {
        "schemas": [USER],
        "userName": "probe@example.com",
        "name": {"givenName": "Pro", "familyName": "Be"},
        "emails": [{"value": "probe@example.com", "type": "work", "primary": True}],
        "externalId": "probe-1",
    }

    with CaptureQueriesContext(connection) as ctx:
        response = scim.post("/Users", body)

    assert response.status_code == 201
    statements = [q["sql"] for q in ctx.captured_queries]
    token_probes = [s for s in statements if "WHERE token_hash = " in s]
    assert len(token_probes) == 1 and token_probes[0].rstrip().endswith("LIMIT 1")
    [probe] = [s for s in statements if "lower(pending_manager_ref) = ANY(" in s]
    assert probe.startswith('WITH created AS (INSERT INTO "users_user"')  # one round trip
    assert not any(s.startswith('INSERT INTO "users_user"') for s in statements)
    assert not any("customfield" in s for s in statements)
