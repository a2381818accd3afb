"""The statements of a SCIM create that BENCHMARKS.md ("POST /Users against django-scim2")
measured: the bearer-token and pending-report probes written by hand (each saves the
ORM's compilation on every request; the pending-report probe rides in the user's
INSERT), and no custom-field definitions query when the create carries no custom value."""

from __future__ import annotations

import re

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


def test_a_create_s_audit_mark_and_outbox_rows_ride_with_other_statements(scim):
    """Write-behind (axero_idp.db): the user INSERT carries the pending-reports probe
    (one statement), and the audit row, the persona mark and the outbox row ride together
    with the COMMIT: four round trips where each statement took its own (nine)."""
    scim.get("/ServiceProviderConfig")
    body = {"schemas": [USER], "userName": "trips@example.com", "externalId": "trips-1"}

    with CaptureQueriesContext(connection) as ctx:
        response = scim.post("/Users", body)

    assert response.status_code == 201
    # In a test the create's transaction is a savepoint of the test's: its BEGIN and
    # COMMIT are SAVEPOINT and RELEASE SAVEPOINT here, and the queue rides with RELEASE.
    round_trips = [[_shape(s) for s in q["sql"].split(";\n")] for q in ctx.captured_queries]
    assert round_trips == [
        ["SELECT scim_scimtoken"],
        ["SAVEPOINT"],
        ["WITH users_user"],  # the INSERT with the waiting-reports probe
        [
            "INSERT users_auditevent",
            "INSERT personas_pendingevaluation",
            "INSERT events_event",
            "RELEASE SAVEPOINT",
        ],
        ["WITH scim_scimrequestlog"],  # the request log, in autocommit after the transaction
    ]


def _shape(statement: str) -> str:
    """A statement's verb and first table: `INSERT users_user`."""
    verb = re.match(r"(RELEASE SAVEPOINT|SAVEPOINT|SELECT|INSERT|WITH)\b", statement)
    assert verb, statement
    table = re.search(r'(?:FROM|INTO) "?(\w+)', statement[verb.end() :])
    return (
        f"{verb.group(1)} {table.group(1)}"
        if table and "SAVEPOINT" not in verb.group(1)
        else verb.group(1)
    )
