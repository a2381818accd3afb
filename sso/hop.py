"""The park-and-hop transport of the ACS, for a POST that arrives without the browser
binding cookie (see sso.login): the posted response waits under a random one-time key
for the same browser's same-site GET on /acs/complete/.

Whoever posts here is anonymous, so nothing is parked before the cheap checks every
login runs first (sso.prechecks: this IdP's Issuer, a signature present, times, our
URLs) and within a tighter size cap, and the parked rows are bounded: a few per client
address and a few hundred per IdP outstanding, expired ones deleted as new ones come,
each one deleted when the browser picks it up.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Final

from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone
from lxml import etree

from axero_idp.ephemeral import ephemeral_write
from axero_idp.rawsql import table
from sso.models import IdentityProvider, PendingResponse
from sso.prechecks import response_precheck
from sso.refusals import RefusalReason, SamlRefused
from sso.saml_settings import SpUrls, response_expectations

PENDING_LIFETIME: Final = dt.timedelta(minutes=2)
# Decoded bytes. A real response is a few KiB, OneLogin's largest with hundreds of roles
# < 100 KiB; the ACS itself reads up to sso.inbound.MAX_POST_BYTES when it completes
# the login in the POST, but stores nothing that large for an anonymous client.
MAX_PARKED_BYTES: Final = 128 * 1024
# Outstanding (unexpired, not picked up) rows. A person has one at a time; a client
# address may be a NAT of many. Over either cap the POST is refused with a 429.
MAX_PENDING_PER_CLIENT: Final = 10
MAX_PENDING_PER_IDP: Final = 500


def pending_response_park(
    *,
    idp: IdentityProvider,
    saml_response: str,
    root: etree._Element,
    relay_state: str,
    client: str,
) -> str:
    """Keep a posted response (root: its parsed XML) for the browser's first-party hop,
    once it passes the cheap checks and within the caps; returns the key."""
    pending_response_precheck(idp=idp, saml_response=saml_response, root=root)
    key = secrets.token_urlsafe(32)
    now = timezone.now()
    with ephemeral_write():
        PendingResponse.objects.filter(expires_at__lte=now).delete()
        # Counted, then inserted: concurrent POSTs may pass a cap together, by at most
        # as many as there are web workers; the bound holds, give or take that.
        refused = _pending_cap_reached(idp=idp, client=client)
        if refused is None:
            PendingResponse.objects.create(
                key=key,
                idp=idp,
                client=client[:64],
                saml_response=saml_response,
                relay_state=relay_state[:2000],
                expires_at=now + PENDING_LIFETIME,
            )
    # Raised after the commit: the purge of expired rows stays done.
    if refused is not None:
        raise refused
    return key


def pending_response_precheck(
    *, idp: IdentityProvider, saml_response: str, root: etree._Element
) -> None:
    """What must hold before an anonymous POST is stored: a size fit for a response,
    and the checks that need neither the browser nor cryptography."""
    decoded_size = len("".join(saml_response.split())) * 3 // 4
    if decoded_size > MAX_PARKED_BYTES:
        raise SamlRefused(
            RefusalReason.MALFORMED,
            f"a response of {decoded_size} bytes is larger than {MAX_PARKED_BYTES} "
            "(the limit for a response waiting for the browser)",
        )
    response_precheck(root, response_expectations(idp, SpUrls.for_idp(idp.slug)))


def _pending_cap_reached(*, idp: IdentityProvider, client: str) -> SamlRefused | None:
    counts = PendingResponse.objects.filter(idp=idp).aggregate(
        for_idp=Count("pk"), for_client=Count("pk", filter=Q(client=client[:64]))
    )
    if counts["for_client"] >= MAX_PENDING_PER_CLIENT:
        return SamlRefused(
            RefusalReason.TOO_MANY_PENDING,
            f"{counts['for_client']} responses from this client are already waiting "
            f"(at most {MAX_PENDING_PER_CLIENT})",
        )
    if counts["for_idp"] >= MAX_PENDING_PER_IDP:
        return SamlRefused(
            RefusalReason.TOO_MANY_PENDING,
            f"{counts['for_idp']} responses for {idp.slug} are already waiting "
            f"(at most {MAX_PENDING_PER_IDP})",
        )
    return None


_TAKE_SQL: Final = (
    "DELETE FROM {pending} WHERE key = %s AND idp_id = %s "
    "RETURNING saml_response, relay_state, expires_at"
)


def pending_response_take(*, idp: IdentityProvider, key: str) -> PendingResponse:
    """The parked response, once; a second use or a late one is refused."""
    with connection.cursor() as cursor:
        # One statement takes it and makes sure nobody else can (DELETE ... RETURNING)
        # where the ORM needs two round trips (SELECT ... FOR UPDATE, then DELETE).
        # bench/sso_rawsql_gains.py, 1,000 calls on PostgreSQL (shared 2-core
        # machine, 10th percentile): 0.16 ms against 1.4 ms. One statement:
        # tests/sso/test_unit_rawsql.py.
        cursor.execute(_TAKE_SQL.format(pending=table(PendingResponse)), [key, idp.pk])
        row = cursor.fetchone()
    if row is None:
        raise SamlRefused(
            RefusalReason.REPLAY, "the posted response was already processed (or never posted)"
        )
    pending = PendingResponse(
        key=key, idp=idp, saml_response=row[0], relay_state=row[1], expires_at=row[2]
    )
    if pending.expires_at <= timezone.now():
        raise SamlRefused(
            RefusalReason.EXPIRED, "the posted response waited too long for the browser"
        )
    return pending
