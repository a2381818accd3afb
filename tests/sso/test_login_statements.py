"""What a complete login costs the database: every round trip of the ACS POST, in order,
with the statements it carries, for the login bench/saml_bench.py times (SP-initiated,
the browser binding cookie with the cross-site POST, no session cookie). Each round
trip costs ~0.1 ms of backend CPU beyond its statements' own work in the login flow
(bench/saml_probe.py): a change that adds one must show up here."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sso.browser_binding import COOKIE_NAME
from tests.sso.idp_peer import post_form

# Real transactions: the login's BEGIN and COMMIT, not a test's savepoints.
pytestmark = pytest.mark.django_db(transaction=True)

ANN = "ann@example.com"
ROLES_BEFORE = ["Everyone", "Staff", "Round0", "Odd0"]
ROLES_AFTER = ["Everyone", "Staff", "Round1", "Odd1"]


def _attributes(roles: list[str]) -> dict[str, object]:
    return {
        "User.email": ANN,
        "User.FirstName": "Ann",
        "User.LastName": "Lee",
        "title": "Engineer",
        "department": "R&D",
        "memberOf": roles,
    }


def _statement(sql: str) -> str:
    """The verb and the first table a statement names ("INSERT sso_loginflow")."""
    verb = sql.split(None, 1)[0].upper()
    table = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', sql, re.IGNORECASE)
    return f"{verb} {table.group(1)}" if table and verb != "BEGIN" else verb


def _round_trip(sql: str) -> str:
    """One round trip's statements (axero_idp.db sends BEGIN and the rows written
    behind in front of the next statement, or with COMMIT), joined by " + "."""
    return " + ".join(_statement(part) for part in re.split(r";\s*\n", sql) if part)


def _acs_statements(browser, roles: list[str]) -> list[str]:
    started = browser.start("/api/v1/me/")
    xml = browser.peer.response_xml(
        name_id=ANN, attributes=_attributes(roles), in_response_to=started.request.id
    )
    for name in [name for name in browser.client.cookies if name != COOKIE_NAME]:
        del browser.client.cookies[name]  # a cross-site POST carries only the binding cookie
    with CaptureQueriesContext(connection) as captured:
        response = browser.client.post(browser.acs, post_form(xml, started.request.relay_state))
    assert (response.status_code, response["Location"]) == (303, "/api/v1/me/")
    return [_round_trip(q["sql"]) for q in captured.captured_queries]


# Both logins share these round trips: the IdP of the URL, then in one transaction the
# replay cache insert and the InResponseTo consume (one CTE, BEGIN riding with it), the
# custom field definitions, the account (user, identity and manager keys in one query),
# the roles named and held (one UNION) ...
_READS = [
    "SELECT sso_identityprovider",
    "BEGIN + WITH sso_seenassertion",
    "SELECT users_customfield",
    "SELECT sso_samlidentity",
    "SELECT users_rolemembership",  # (its first FROM is the EXISTS of the held ones)
]
# ... and at the end the session row, then the SAML session, the audit event and the
# login flow, written behind (axero_idp.db), riding with the COMMIT.
_RECORDS = [
    "INSERT django_session",
    "INSERT sso_samlsession + INSERT users_auditevent + INSERT sso_loginflow + COMMIT",
]


def test_a_repeat_login_is_seven_round_trips_and_one_commit(browser):
    _acs_statements(browser, ROLES_AFTER)
    _acs_statements(browser, ROLES_BEFORE)

    assert _acs_statements(browser, ROLES_BEFORE) == _READS + _RECORDS


def test_a_login_that_changes_two_roles_adds_one_round_trip(browser):
    _acs_statements(browser, ROLES_AFTER)  # every role exists from here on
    _acs_statements(browser, ROLES_BEFORE)

    assert _acs_statements(browser, ROLES_AFTER) == [
        *_READS,
        # The memberships added and removed (one CTE); their audit events (one INSERT
        # for all), the persona mark and the directory events (outbox), written behind,
        # ride with the session row.
        "WITH users_rolemembership",
        "INSERT users_auditevent + INSERT personas_pendingevaluation + INSERT events_event"
        " + INSERT django_session",
        _RECORDS[-1],
    ]
