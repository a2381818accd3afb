"""SP-initiated and IdP-initiated login, as steps the views call.

The session cookie is SameSite=Lax, so the IdP's cross-site POST to the ACS arrives
without it. The ACS therefore only parks the posted response under a random one-time
key and sends the browser (303) to a same-site GET on /acs/complete/, which carries the
cookie; there the full validation runs, including the binding of InResponseTo to a
request this browser started.
"""

from __future__ import annotations

import base64
import calendar
import datetime as dt
import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

from django.contrib.auth import SESSION_KEY
from django.contrib.auth import login as django_login
from django.contrib.sessions.backends.base import SessionBase
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from axero_idp.errors import ApplicationError
from sso import refusals
from sso.inbound import Expectations, ValidLogin, login_response_validate
from sso.models import (
    IdentityProvider,
    OutstandingRequest,
    PendingResponse,
    SamlSession,
    SeenAssertion,
    SsoBinding,
)
from sso.provisioning import ProvisionResult, user_provision_from_login, user_roles_from_login
from sso.redirects import safe_next
from sso.refusals import SamlRefused
from sso.saml_settings import request_data_for, saml_settings
from users.models import User
from users.services import Actor, audit_record

logger = logging.getLogger(__name__)

REQUEST_LIFETIME: Final = dt.timedelta(minutes=10)
PENDING_LIFETIME: Final = dt.timedelta(minutes=2)
# An assertion that states no NotOnOrAfter at all is remembered this long.
DEFAULT_REPLAY_WINDOW: Final = dt.timedelta(hours=24)
BROWSER_KEY: Final = "sso_browser"
AUTHN: Final = "authn"
LOGOUT: Final = "logout"


@contextmanager
def ephemeral_write() -> Iterator[None]:
    """A transaction for short-lived, re-creatable rows (a parked response, a request
    ID): PostgreSQL commits it without waiting for the WAL flush. A crash can lose the
    last fraction of a second of these, which only means that person signs in again;
    the login itself (users, replay cache, audit) always commits durably."""
    # Only when this is the outermost transaction: SET LOCAL would otherwise relax the
    # commit of a caller's transaction too.
    relax = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic():
        if relax:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        yield


def browser_id(session: SessionBase, *, create: bool) -> str | None:
    """A random id of this browser, kept in its session, that outstanding requests are
    bound to (the session key itself changes at login)."""
    value = session.get(BROWSER_KEY)
    if value is None and create:
        value = secrets.token_urlsafe(24)
        session[BROWSER_KEY] = value
    return value


def outstanding_request_remember(
    *, idp: IdentityProvider, request_id: str, kind: str, browser: str
) -> None:
    with ephemeral_write():
        OutstandingRequest.objects.create(
            request_id=request_id,
            idp=idp,
            kind=kind,
            browser=browser,
            expires_at=timezone.now() + REQUEST_LIFETIME,
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


@dataclass(frozen=True)
class LoginStart:
    """How to send the browser to the IdP: a redirect URL, or a form to auto-post."""

    redirect_url: str | None = None
    post_url: str | None = None
    post_fields: dict[str, str] | None = None


def authn_request_start(
    *, idp: IdentityProvider, session: SessionBase, next_path: str | None
) -> LoginStart:
    """Build a signed AuthnRequest, remember its ID for this browser, say where to go."""
    built = saml_settings(idp)
    relay_state = safe_next(next_path)
    authn = OneLogin_Saml2_Authn_Request(built.login)
    browser = browser_id(session, create=True)
    assert browser is not None
    outstanding_request_remember(idp=idp, request_id=authn.get_id(), kind=AUTHN, browser=browser)
    if idp.sso_binding == SsoBinding.POST:
        sp = built.login.get_sp_data()
        signed = OneLogin_Saml2_Utils.add_sign(
            authn.get_xml(),
            sp["privateKey"],
            sp["x509cert"],
            sign_algorithm=C.RSA_SHA256,
            digest_algorithm=C.SHA256,
        )
        return LoginStart(
            post_url=idp.sso_url,
            post_fields={
                "SAMLRequest": base64.b64encode(signed).decode(),
                "RelayState": relay_state,
            },
        )
    parameters = {"SAMLRequest": authn.get_request(), "RelayState": relay_state}
    auth = OneLogin_Saml2_Auth(request_data_for(built.urls.acs), old_settings=built.login)
    auth.add_request_signature(parameters, C.RSA_SHA256)
    return LoginStart(redirect_url=OneLogin_Saml2_Utils.redirect(idp.sso_url, parameters))


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


def assertion_remember(*, idp: IdentityProvider, valid: ValidLogin) -> None:
    """One-time use of each assertion ID, in the database all processes share: the
    unique (idp, assertion_id) row decides, whichever process gets there first."""
    if valid.not_on_or_after:
        until = dt.datetime.fromtimestamp(valid.not_on_or_after, dt.UTC)
    else:
        until = timezone.now() + DEFAULT_REPLAY_WINDOW
    until += dt.timedelta(seconds=idp.clock_skew_seconds)
    table = SeenAssertion._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (idp_id, assertion_id, expires_at) VALUES (%s, %s, %s) "  # noqa: S608
            "ON CONFLICT (idp_id, assertion_id) DO NOTHING RETURNING id",
            [idp.pk, valid.assertion_id[:255], until],
        )
        inserted = cursor.fetchone()
    if inserted is None:
        raise SamlRefused(refusals.REPLAY, f"assertion {valid.assertion_id} was already used")


def _in_response_to_check(*, idp: IdentityProvider, valid: ValidLogin, browser: str | None) -> None:
    if valid.in_response_to:
        if not outstanding_request_consume(
            idp=idp, request_id=valid.in_response_to, kind=AUTHN, browser=browser
        ):
            raise SamlRefused(
                refusals.IN_RESPONSE_TO_UNKNOWN,
                f"InResponseTo {valid.in_response_to!r} names no request this browser started (or it expired)",
            )
        return
    if idp.allow_idp_initiated:
        return
    waiting = (
        bool(browser)
        and OutstandingRequest.objects.filter(
            idp=idp, kind=AUTHN, browser=browser, expires_at__gt=timezone.now()
        ).exists()
    )
    if waiting:
        raise SamlRefused(
            refusals.IN_RESPONSE_TO_MISSING,
            "the response has no InResponseTo but a login was started here",
        )
    raise SamlRefused(
        refusals.IDP_INITIATED_NOT_ALLOWED,
        f"unsolicited response and {idp.slug} allows no IdP-initiated login",
    )


@dataclass(frozen=True)
class LoginDone:
    result: ProvisionResult
    next_path: str


def login_complete(*, request: HttpRequest, idp: IdentityProvider, key: str) -> LoginDone:
    """Validate a parked response for this browser, provision the user, log them in.

    One transaction, one commit, for the whole login. A refusal still commits what it
    consumed (the parked response, the assertion ID, the request ID): each stays used.
    Concurrent duplicates wait on the first one's uncommitted rows and then conflict.
    """
    refused: SamlRefused | None = None
    with transaction.atomic():
        pending = pending_response_take(idp=idp, key=key)
        try:
            done = _login_complete(request=request, idp=idp, pending=pending)
        except SamlRefused as exc:
            refused = exc
        except ApplicationError as exc:
            # A directory rule the assertion broke (an over-long username, ...).
            refused = SamlRefused(refusals.VALIDATION, exc.detail)
    if refused is not None:
        raise refused
    return done


def _login_complete(
    *, request: HttpRequest, idp: IdentityProvider, pending: PendingResponse
) -> LoginDone:
    built = saml_settings(idp)
    valid = login_response_validate(
        pending.saml_response,
        settings_obj=built.login,
        request_data=request_data_for(built.urls.acs),
        expect=Expectations(
            acs_url=built.urls.acs,
            clock_skew=idp.clock_skew_seconds,
            now=calendar.timegm(timezone.now().utctimetuple()),
        ),
    )
    assertion_remember(idp=idp, valid=valid)
    _in_response_to_check(idp=idp, valid=valid, browser=browser_id(request.session, create=False))
    # Provisioning refuses before it writes; each service it calls rolls back its own
    # savepoint on failure, so no half-made user survives a refusal.
    result = user_provision_from_login(idp=idp, name_id=valid.name_id, attributes=valid.attributes)
    previous_key = request.session.session_key if SESSION_KEY in request.session else None
    if previous_key:
        # Django keeps the key when the same user logs in again; we rotate at every login.
        request.session.cycle_key()
    django_login(request, result.user, backend="django.contrib.auth.backends.ModelBackend")
    saml_session_record(
        request=request, idp=idp, valid=valid, user=result.user, previous_key=previous_key
    )
    # Last before the commit: the role rows stay locked for as short a time as possible.
    user_roles_from_login(idp=idp, result=result)
    login_audit_record(idp=idp, valid=valid, result=result)
    return LoginDone(result=result, next_path=safe_next(pending.relay_state))


def saml_session_record(
    *,
    request: HttpRequest,
    idp: IdentityProvider,
    valid: ValidLogin,
    user: User,
    previous_key: str | None = None,
) -> None:
    """Remember the session for single logout (inside the login's transaction)."""
    if previous_key:
        SamlSession.objects.filter(session_key=previous_key).delete()
    if request.session.session_key is None:
        request.session.save()
    session_key = request.session.session_key
    assert session_key is not None
    # The key is brand new (login() rotated it), so this is always an insert.
    SamlSession.objects.create(
        session_key=session_key,
        idp=idp,
        user=user,
        name_id=valid.name_id,
        name_id_format=valid.name_id_format or "",
        session_index=valid.session_index[:255],
    )


def login_audit_record(
    *, idp: IdentityProvider, valid: ValidLogin, result: ProvisionResult
) -> None:
    audit_record(
        actor=Actor.idp(idp.slug),
        action="saml.login",
        target=result.user,
        detail={
            "idp": idp.slug,
            "created": result.created,
            "linked_by": result.linked_by,
            "roles_added": sorted(result.roles_added),
            "roles_removed": sorted(result.roles_removed),
            "ignored_attributes": result.ignored,
            "idp_initiated": valid.in_response_to is None,
        },
    )
