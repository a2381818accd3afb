"""The park-and-hop transport of the ACS, for a POST that arrives without the browser
binding cookie (see sso.login): the posted response waits under a random one-time key
for the same browser's same-site GET on /acs/complete/."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Final

from django.db import connection
from django.utils import timezone

from axero_idp.ephemeral import ephemeral_write
from sso import refusals
from sso.models import IdentityProvider, PendingResponse
from sso.refusals import SamlRefused

PENDING_LIFETIME: Final = dt.timedelta(minutes=2)


def pending_response_park(*, idp: IdentityProvider, saml_response: str, relay_state: str) -> str:
    """Keep a posted response for the browser's first-party hop; returns the key."""
    key = secrets.token_urlsafe(32)
    with ephemeral_write():
        PendingResponse.objects.create(
            key=key,
            idp=idp,
            saml_response=saml_response,
            relay_state=relay_state[:2000],
            expires_at=timezone.now() + PENDING_LIFETIME,
        )
    return key


def pending_response_take(*, idp: IdentityProvider, key: str) -> PendingResponse:
    """The parked response, once; a second use or a late one is refused."""
    table = PendingResponse._meta.db_table
    with connection.cursor() as cursor:
        # One statement takes it and makes sure nobody else can (DELETE ... RETURNING).
        cursor.execute(
            f"DELETE FROM {table} WHERE key = %s AND idp_id = %s "  # noqa: S608 - our table name
            "RETURNING saml_response, relay_state, expires_at",
            [key, idp.pk],
        )
        row = cursor.fetchone()
    if row is None:
        raise SamlRefused(
            refusals.REPLAY, "the posted response was already processed (or never posted)"
        )
    pending = PendingResponse(
        key=key, idp=idp, saml_response=row[0], relay_state=row[1], expires_at=_aware(row[2])
    )
    if pending.expires_at <= timezone.now():
        raise SamlRefused(refusals.EXPIRED, "the posted response waited too long for the browser")
    return pending


def _aware(value: dt.datetime | str) -> dt.datetime:
    # SQLite hands raw text back from a cursor; PostgreSQL an aware datetime.
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if timezone.is_aware(value) else timezone.make_aware(value, dt.UTC)
