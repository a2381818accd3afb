"""SP-initiated and IdP-initiated login, as steps the views call.

The session cookie is SameSite=Lax, so the IdP's cross-site POST to the ACS arrives
without it. What binds a response to the browser that asked for it is therefore not the
session but the browser binding cookie (sso.browser_binding): /login/ sets it, and the
AuthnRequest ID is remembered with its browser id. The ACS completes a login in one of
two ways, with exactly the same checks in the same order:

- In the POST itself, when the binding cookie arrives validly signed (an https SITE_URL,
  where it is SameSite=None; Secure, so browsers send it cross-site), or when the
  response is IdP-initiated (no InResponseTo anywhere), the IdP allows that, and so no
  binding is needed. The browser is then sent (303) to the safe next.
- Otherwise (an http SITE_URL, where the cookie is Lax and stays behind) the POST only
  parks the response under a random one-time key and sends the browser (303) to a
  same-site GET on /acs/complete/, which carries the cookie; the login completes there.

Either way: strict validation, the replay check, InResponseTo consumed once and only for
this browser id, provisioning, session rotation, the SAML session record and the audit,
in one transaction.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import secrets
from dataclasses import dataclass
from typing import Any, Final

from django.contrib.auth import SESSION_KEY
from django.contrib.auth import login as django_login
from django.contrib.sessions.backends.base import SessionBase
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone
from lxml import etree
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from axero_idp.ephemeral import ephemeral_write
from axero_idp.errors import ApplicationError
from axero_idp.rawsql import table
from sso import refusals
from sso.hop import pending_response_take
from sso.inbound import ValidLogin, login_response_validate
from sso.models import (
    IdentityProvider,
    OutstandingRequest,
    SamlSession,
    SeenAssertion,
    SsoBinding,
)
from sso.preview import LoginPreview, login_preview
from sso.provisioning import ProvisionResult, user_provision_from_login, user_roles_from_login
from sso.redirects import safe_next
from sso.refusals import SamlRefused
from sso.saml_settings import request_data_for, response_expectations, saml_settings
from users.models import User
from users.services import Actor, audit_record

logger = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class LoginStart:
    """How to send the browser to the IdP: a redirect URL, or a form to auto-post."""

    redirect_url: str | None = None
    post_url: str | None = None
    post_fields: dict[str, str] | None = None


def authn_request_start(
    *,
    idp: IdentityProvider,
    browser: str,
    next_path: str | None,
    login_hint: str = "",
    dry_run_by: str = "",
) -> LoginStart:
    """Build a signed AuthnRequest, remember its ID for this browser id (the binding
    cookie's), say where to go. A login hint (the email the person typed at /sso/) rides
    along as the `login_hint` query parameter Entra ID, Okta and Google read; it is not
    part of the signed message, and an IdP that does not know it ignores it. With
    dry_run_by (an admin's username) its answer is a test login: shown to that browser,
    never applied."""
    built = saml_settings(idp)
    relay_state = safe_next(next_path)
    authn = OneLogin_Saml2_Authn_Request(built.login)
    outstanding_request_remember(
        idp=idp, request_id=authn.get_id(), kind=AUTHN, browser=browser, dry_run_by=dry_run_by
    )
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
    if login_hint:
        parameters["login_hint"] = login_hint
    return LoginStart(redirect_url=OneLogin_Saml2_Utils.redirect(idp.sso_url, parameters))


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


def assertion_remember(
    *, idp: IdentityProvider, valid: ValidLogin, consume_for: str | None = None
) -> Consumed | None:
    """One-time use of each assertion ID, in the database all processes share: the
    unique (idp, assertion_id) row decides, whichever process gets there first.

    With consume_for (a browser id), the response's InResponseTo request is consumed in
    the same statement (one round trip less per login in a storm): returns whether
    that request was this browser's and still outstanding; otherwise None. A replay
    is refused either way, before anything looks at the request's answer."""
    seen = SeenAssertion._meta.db_table
    params: list[Any] = [idp.pk, valid.assertion_id[:255], _replay_until(idp, valid)]
    insert = (
        f"INSERT INTO {seen} (idp_id, assertion_id, expires_at) VALUES (%s, %s, %s) "  # noqa: S608
        "ON CONFLICT (idp_id, assertion_id) DO NOTHING RETURNING id"
    )
    consume = bool(consume_for and valid.in_response_to)
    with connection.cursor() as cursor:
        if consume:
            outstanding = OutstandingRequest._meta.db_table
            cursor.execute(
                f"WITH seen AS ({insert}), consumed AS ("  # noqa: S608
                f"DELETE FROM {outstanding} WHERE request_id = %s AND idp_id = %s "
                "AND kind = %s AND browser = %s AND expires_at > %s RETURNING dry_run_by) "
                "SELECT (SELECT count(*) FROM seen), (SELECT count(*) FROM consumed), "
                "(SELECT max(dry_run_by) FROM consumed)",
                [*params, valid.in_response_to, idp.pk, AUTHN, consume_for, timezone.now()],
            )
            inserted, consumed, dry_run_by = cursor.fetchone()
        else:
            cursor.execute(insert, params)
            inserted, consumed, dry_run_by = (cursor.fetchone() is not None), None, ""
    if not inserted:
        raise SamlRefused(refusals.REPLAY, f"assertion {valid.assertion_id} was already used")
    if not consume:
        return None
    return Consumed(ok=bool(consumed), dry_run_by=dry_run_by or "")


def _in_response_to_check(
    *, idp: IdentityProvider, valid: ValidLogin, browser: str | None, consumed: bool | None
) -> None:
    if valid.in_response_to:
        if not consumed:
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
    """A completed login, or (preview set, result None) an admin's test login."""

    result: ProvisionResult | None
    next_path: str
    preview: LoginPreview | None = None


def completes_in_post(*, idp: IdentityProvider, root: etree._Element, browser: str | None) -> bool:
    """Whether the ACS POST can complete the login itself (only the transport differs).

    With the binding cookie it can. Without it, only an IdP-initiated response the IdP
    is allowed to send needs no binding; anything naming a request (InResponseTo on any
    element, read here from the still unverified XML only to choose the transport) goes
    through the same-site hop, where the cookie can arrive.
    """
    if browser:
        return True
    return idp.allow_idp_initiated and not root.xpath("//@InResponseTo")


def login_complete(
    *, request: HttpRequest, idp: IdentityProvider, key: str, browser: str | None
) -> LoginDone:
    """Complete a parked response (the hop's GET) for this browser."""
    with transaction.atomic():
        pending = pending_response_take(idp=idp, key=key)
        outcome = _login_attempt(
            request=request,
            idp=idp,
            saml_response=pending.saml_response,
            relay_state=pending.relay_state,
            browser=browser,
        )
    # Raised only now, after the commit: a refusal keeps what it consumed.
    if isinstance(outcome, SamlRefused):
        raise outcome
    return outcome


def login_complete_posted(
    *,
    request: HttpRequest,
    idp: IdentityProvider,
    saml_response: str,
    relay_state: str,
    browser: str | None,
) -> LoginDone:
    """Complete a response in the ACS POST itself (see completes_in_post)."""
    with transaction.atomic():
        outcome = _login_attempt(
            request=request,
            idp=idp,
            saml_response=saml_response,
            relay_state=relay_state[:2000],
            browser=browser,
        )
    # Raised only now, after the commit: a refusal keeps what it consumed.
    if isinstance(outcome, SamlRefused):
        raise outcome
    return outcome


def _login_attempt(
    *,
    request: HttpRequest,
    idp: IdentityProvider,
    saml_response: str,
    relay_state: str,
    browser: str | None,
) -> LoginDone | SamlRefused:
    """Validate, provision, log in — one transaction, one commit, for the whole login.

    Runs inside the caller's transaction and returns a refusal instead of raising it,
    so that the caller commits what the refusal consumed (the parked response, the
    assertion ID, the request ID): each stays used. Concurrent duplicates wait on the
    first one's uncommitted rows and then conflict.
    """
    try:
        return _login_complete(
            request=request,
            idp=idp,
            saml_response=saml_response,
            relay_state=relay_state,
            browser=browser,
        )
    except SamlRefused as exc:
        refused = exc
    except ApplicationError as exc:
        # A directory rule the assertion broke (an over-long username, ...).
        refused = SamlRefused(refusals.VALIDATION, exc.detail)
    if transaction.get_rollback():
        # A step without a savepoint of its own failed: this transaction cannot commit
        # what the refusal consumed. Raised, it rolls back whole (the refusal page
        # still shows); the same response would fail the same way again.
        raise refused
    return refused


def _login_complete(
    *,
    request: HttpRequest,
    idp: IdentityProvider,
    saml_response: str,
    relay_state: str,
    browser: str | None,
) -> LoginDone:
    built = saml_settings(idp)
    valid = login_response_validate(
        saml_response,
        settings_obj=built.login,
        request_data=request_data_for(built.urls.acs),
        expect=response_expectations(idp, built.urls),
        decrypt_fallbacks=built.decrypt_fallbacks,
    )
    consumed = assertion_remember(idp=idp, valid=valid, consume_for=browser)
    _in_response_to_check(
        idp=idp, valid=valid, browser=browser, consumed=consumed.ok if consumed else None
    )
    if consumed is not None and consumed.dry_run_by:
        # A test login: everything above ran for real; nothing below may.
        preview = login_preview(idp=idp, valid=valid, admin=consumed.dry_run_by)
        return LoginDone(result=None, next_path="", preview=preview)
    # Provisioning refuses before it writes; each service it calls rolls back its own
    # savepoint on failure, so no half-made user survives a refusal.
    result = user_provision_from_login(idp=idp, name_id=valid.name_id, attributes=valid.attributes)
    # Every step that can still refuse comes before the session changes: a refused
    # login leaves the browser's session exactly as it was.
    user_roles_from_login(idp=idp, result=result)
    previous_key = request.session.session_key if SESSION_KEY in request.session else None
    if previous_key:
        # Django keeps the key when the same user logs in again; we rotate at every login.
        request.session.cycle_key()
    django_login(request, result.user, backend="django.contrib.auth.backends.ModelBackend")
    saml_session_record(
        request=request, idp=idp, valid=valid, user=result.user, previous_key=previous_key
    )
    login_audit_record(idp=idp, valid=valid, result=result)
    return LoginDone(result=result, next_path=safe_next(relay_state))


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
    # Stored here, in the login's transaction: the response's own save then finds
    # nothing new to write (axero_idp.sessions), so a login commits once.
    request.session.save()
    session_key = request.session.session_key
    assert session_key is not None
    # The key is brand new (login() rotated it), so this is always an insert; written
    # by hand because every login pays it (the ORM's insert cost more than the trip).
    sessions = table(SamlSession)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {sessions} (idp_id, user_id, session_key, name_id, name_id_format, "  # noqa: S608
            "session_index, created) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [
                idp.pk,
                User._meta.pk.get_db_prep_value(user.pk, connection),  # type: ignore[union-attr]
                session_key,
                valid.name_id,
                valid.name_id_format or "",
                valid.session_index[:255],
                connection.ops.adapt_datetimefield_value(timezone.now()),
            ],
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
