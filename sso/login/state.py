"""The one-time state of a login, in the database every web process shares.

- Outstanding requests: each AuthnRequest (and LogoutRequest) ID we sent, bound to the
  browser that started it, consumed at most once and only by that browser.
- The replay cache: each assertion ID is accepted once per IdP.
- Parked responses (the hop for a POST without the binding cookie) live in sso.hop.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any, Final

from django.contrib.sessions.backends.base import SessionBase
from django.db import connection
from django.utils import timezone

from axero_idp.ephemeral import ephemeral_write
from axero_idp.rawsql import table
from sso.inbound import ValidLogin
from sso.models import IdentityProvider, OutstandingRequest, SeenAssertion
from sso.refusals import RefusalReason, SamlRefused

REQUEST_LIFETIME: Final = dt.timedelta(minutes=10)
BROWSER_KEY: Final = "sso_browser"
AUTHN: Final = "authn"
LOGOUT: Final = "logout"


def browser_id(session: SessionBase, *, create: bool) -> str | None:
    """A random id of this browser, kept in its session, that outstanding LOGOUT requests
    are bound to (logging out happens with the session at hand; logins are bound to the
    browser binding cookie instead, see sso.browser_binding)."""
    value = session.get(BROWSER_KEY)
    if value is None and create:
        value = secrets.token_urlsafe(24)
        session[BROWSER_KEY] = value
    return value


def outstanding_request_remember(
    *, idp: IdentityProvider, request_id: str, kind: str, browser: str, dry_run_by: str = ""
) -> None:
    with ephemeral_write():
        OutstandingRequest.objects.create(
            request_id=request_id,
            idp=idp,
            kind=kind,
            browser=browser,
            expires_at=timezone.now() + REQUEST_LIFETIME,
            dry_run_by=dry_run_by,
        )


def outstanding_request_consume(
    *, idp: IdentityProvider, request_id: str, kind: str, browser: str | None
) -> bool:
    """True once for a request this browser started and that has not expired."""
    if not browser:
        return False
    deleted, _ = OutstandingRequest.objects.filter(
        request_id=request_id, idp=idp, kind=kind, browser=browser, expires_at__gt=timezone.now()
    ).delete()
    return deleted == 1


def login_waiting(*, idp: IdentityProvider, browser: str | None) -> bool:
    """Whether this browser started a login at idp that is still outstanding."""
    return (
        bool(browser)
        and OutstandingRequest.objects.filter(
            idp=idp, kind=AUTHN, browser=browser, expires_at__gt=timezone.now()
        ).exists()
    )


def _replay_until(idp: IdentityProvider, valid: ValidLogin) -> dt.datetime:
    # Bounded by the assertion's IssueInstant (sso.prechecks.ASSERTION_MAX_AGE), so a
    # NotOnOrAfter in year 9999 is remembered minutes, not forever (nor overflows).
    until = dt.datetime.fromtimestamp(valid.accepted_until, dt.UTC)
    return until + dt.timedelta(seconds=idp.clock_skew_seconds)


@dataclass(frozen=True)
class Consumed:
    """Whether the response's request was this browser's and outstanding, and whether
    an admin started it as a test login (dry_run_by: their username)."""

    ok: bool
    dry_run_by: str = ""


def _seen_insert_sql() -> str:
    return (
        f"INSERT INTO {table(SeenAssertion)} (idp_id, assertion_id, expires_at) "  # noqa: S608
        "VALUES (%s, %s, %s) ON CONFLICT (idp_id, assertion_id) DO NOTHING RETURNING id"
    )


def _seen_and_consumed_sql() -> str:
    return (
        f"WITH seen AS ({_seen_insert_sql()}), consumed AS ("  # noqa: S608
        f"DELETE FROM {table(OutstandingRequest)} WHERE request_id = %s AND idp_id = %s "
        "AND kind = %s AND browser = %s AND expires_at > %s RETURNING dry_run_by) "
        "SELECT (SELECT count(*) FROM seen), (SELECT count(*) FROM consumed), "
        "(SELECT max(dry_run_by) FROM consumed)"
    )


def assertion_remember(
    *, idp: IdentityProvider, valid: ValidLogin, consume_for: str | None = None
) -> Consumed | None:
    """One-time use of each assertion ID, in the database all processes share: the
    unique (idp, assertion_id) row decides, whichever process gets there first.

    With consume_for (a browser id), the response's InResponseTo request is consumed in
    the same statement: returns whether that request was this browser's and still
    outstanding; otherwise None. A replay is refused either way, before anything looks
    at the request's answer."""
    params: list[Any] = [idp.pk, valid.assertion_id[:255], _replay_until(idp, valid)]
    consume = bool(consume_for and valid.in_response_to)
    with connection.cursor() as cursor:
        if consume:
            # One statement for both (CTE) where the ORM needs five round trips
            # (savepoint, insert, release, select for update, delete), on every
            # SP-initiated login. bench/sso_rawsql_gains.py, 1,000 calls each on
            # PostgreSQL (shared 2-core machine, 10th percentile): 0.27 ms against
            # 1.4 ms. One statement: tests/sso/test_unit_rawsql.py.
            cursor.execute(
                _seen_and_consumed_sql(),
                [*params, valid.in_response_to, idp.pk, AUTHN, consume_for, timezone.now()],
            )
            inserted, consumed, dry_run_by = cursor.fetchone()
        else:
            # ON CONFLICT DO NOTHING: the unique index decides in one statement, where
            # the ORM's create needs a savepoint around it (three round trips, and a
            # rollback on a replay). Same measurement: 0.14 ms against 0.33 ms.
            cursor.execute(_seen_insert_sql(), params)
            inserted, consumed, dry_run_by = (cursor.fetchone() is not None), None, ""
    if not inserted:
        raise SamlRefused(RefusalReason.REPLAY, f"assertion {valid.assertion_id} was already used")
    if not consume:
        return None
    return Consumed(ok=bool(consumed), dry_run_by=dry_run_by or "")
