"""Completing a login: one flow for both transports of the ACS.

The session cookie is SameSite=Lax, so the IdP's cross-site POST to the ACS arrives
without it. What binds a response to the browser that asked for it is therefore not the
session but the browser binding cookie (sso.browser_binding): /login/ sets it, and the
AuthnRequest ID is remembered with its browser id. The response reaches this flow in one
of two ways, and from there on the checks are exactly the same, in the same order:

- Posted: in the ACS POST itself, when the binding cookie arrives validly signed (an
  https SITE_URL, where it is SameSite=None; Secure, so browsers send it cross-site),
  or when the response is IdP-initiated (no InResponseTo anywhere), the IdP allows
  that, and so no binding is needed (see completes_in_post).
- Parked: otherwise (an http SITE_URL, where the cookie is Lax and stays behind) the
  POST only parks the response under a random one-time key (sso.hop) and sends the
  browser to a same-site GET on /acs/complete/, which carries the cookie.

Either way: strict validation, the replay check, InResponseTo consumed once and only for
this browser id, provisioning, session rotation, the SAML session record and the audit,
in one transaction. The answer is a LoginOutcome: signed in, previewed (an admin's test
login) or refused; a refusal commits what it consumed (the parked response, the
assertion ID, the request ID), so each stays used.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from django.db import transaction
from django.http import HttpRequest
from lxml import etree

from axero_idp.errors import ApplicationError
from axero_idp.request_id import current_request_id
from sso.flows import login_flow_record
from sso.hop import pending_response_take
from sso.inbound import Decoded, ValidLogin, login_response_validate, response_decode
from sso.login.records import login_audit_record, session_start
from sso.login.state import assertion_remember, login_waiting
from sso.models import IdentityProvider, LoginFlowOutcome
from sso.preview import LoginPreview, login_preview
from sso.provisioning import ProvisionResult, user_provision_from_login, user_roles_from_login
from sso.redirects import safe_next
from sso.refusals import RefusalReason, SamlRefused
from sso.saml_settings import request_data_for, response_expectations, saml_settings


@dataclass(frozen=True)
class Posted:
    """The response as the ACS POST carried it."""

    saml_response: str
    relay_state: str
    # The response as the ACS POST already decoded and parsed it (sso.inbound.Decoded).
    decoded: Decoded | None = None


@dataclass(frozen=True)
class Parked:
    """The one-time key of a response parked by the ACS POST (sso.hop)."""

    key: str


class LoginOutcomeKind(enum.StrEnum):
    SIGNED_IN = "signed_in"
    PREVIEWED = "previewed"  # an admin's test login: shown, not applied
    REFUSED = "refused"


@dataclass(frozen=True)
class LoginOutcome:
    kind: LoginOutcomeKind
    next_path: str = ""
    result: ProvisionResult | None = None
    preview: LoginPreview | None = None
    refused: SamlRefused | None = None
    # The validated response, when validation got that far (also for most refusals).
    valid: ValidLogin | None = None


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
    *,
    request: HttpRequest,
    idp: IdentityProvider,
    transport: Posted | Parked,
    browser: str | None,
) -> LoginOutcome:
    """Validate, provision, log in: one transaction, one commit, for the whole login."""
    try:
        with transaction.atomic():
            posted = _posted(idp, transport)
            return _login_attempt(request=request, idp=idp, posted=posted, browser=browser)
    except SamlRefused as refused:
        # Raised inside the transaction: it rolled back whole (a parked response
        # already taken or expired, or a step that left the transaction unusable).
        return LoginOutcome(kind=LoginOutcomeKind.REFUSED, refused=refused)


def _posted(idp: IdentityProvider, transport: Posted | Parked) -> Posted:
    if isinstance(transport, Posted):
        return Posted(transport.saml_response, transport.relay_state[:2000], transport.decoded)
    pending = pending_response_take(idp=idp, key=transport.key)
    return Posted(pending.saml_response, pending.relay_state)


def _login_attempt(
    *, request: HttpRequest, idp: IdentityProvider, posted: Posted, browser: str | None
) -> LoginOutcome:
    """Runs inside login_complete's transaction and returns a refusal instead of
    raising it, so that the transaction commits what the refusal consumed. Concurrent
    duplicates wait on the first one's uncommitted rows and then conflict."""
    valid: ValidLogin | None = None
    try:
        valid = _validated(idp, posted.decoded or response_decode(posted.saml_response))
        return _login_steps(
            request=request, idp=idp, valid=valid, relay_state=posted.relay_state, browser=browser
        )
    except SamlRefused as exc:
        refused = exc
    except ApplicationError as exc:
        # A directory rule the assertion broke (an over-long username, ...).
        refused = SamlRefused(RefusalReason.VALIDATION, exc.detail)
    if transaction.get_rollback():
        # A step without a savepoint of its own failed: this transaction cannot commit
        # what the refusal consumed. Raised, it rolls back whole; the same response
        # would fail the same way again.
        raise refused
    return LoginOutcome(kind=LoginOutcomeKind.REFUSED, refused=refused, valid=valid)


def _validated(idp: IdentityProvider, decoded: Decoded) -> ValidLogin:
    built = saml_settings(idp)
    return login_response_validate(
        decoded,
        settings_obj=built.login,
        request_data=request_data_for(built.urls.acs),
        expect=response_expectations(idp, built.urls),
        decrypt_fallbacks=built.decrypt_fallbacks,
    )


def _login_steps(
    *,
    request: HttpRequest,
    idp: IdentityProvider,
    valid: ValidLogin,
    relay_state: str,
    browser: str | None,
) -> LoginOutcome:
    consumed = assertion_remember(idp=idp, valid=valid, consume_for=browser)
    _in_response_to_check(
        idp=idp, valid=valid, browser=browser, consumed=consumed.ok if consumed else None
    )
    if consumed is not None and consumed.dry_run_by:
        # A test login: everything above ran for real; nothing below may.
        return _previewed(idp=idp, valid=valid, started_by=consumed.dry_run_by)
    # Provisioning refuses before it writes; each service it calls rolls back its own
    # savepoint on failure, so no half-made user survives a refusal.
    result = user_provision_from_login(idp=idp, name_id=valid.name_id, attributes=valid.attributes)
    # Every step that can still refuse comes before the session changes: a refused
    # login leaves the browser's session exactly as it was.
    user_roles_from_login(idp=idp, result=result)
    session_start(request=request, idp=idp, valid=valid, user=result.user)
    login_audit_record(idp=idp, valid=valid, result=result)
    # The one statement login flows add to a login.
    login_flow_record(
        slug=idp.slug,
        outcome=LoginFlowOutcome.SIGNED_IN,
        reference=current_request_id() or "",
        valid=valid,
        user=result.user,
    )
    return LoginOutcome(
        kind=LoginOutcomeKind.SIGNED_IN,
        result=result,
        next_path=safe_next(relay_state),
        valid=valid,
    )


def _previewed(*, idp: IdentityProvider, valid: ValidLogin, started_by: str) -> LoginOutcome:
    preview = login_preview(idp=idp, valid=valid, admin=started_by)
    login_flow_record(
        slug=idp.slug,
        outcome=LoginFlowOutcome.PREVIEWED,
        reference=current_request_id() or "",
        valid=valid,
        user=preview.user,
        dry_run=True,
        preview_refusal=(preview.refusal_reason, preview.refusal_message),
    )
    return LoginOutcome(kind=LoginOutcomeKind.PREVIEWED, preview=preview, valid=valid)


def _in_response_to_check(
    *, idp: IdentityProvider, valid: ValidLogin, browser: str | None, consumed: bool | None
) -> None:
    if valid.in_response_to:
        if not consumed:
            raise SamlRefused(
                RefusalReason.IN_RESPONSE_TO_UNKNOWN,
                f"InResponseTo {valid.in_response_to!r} names no request this browser "
                "started (or it expired)",
            )
        return
    if idp.allow_idp_initiated:
        return
    if login_waiting(idp=idp, browser=browser):
        raise SamlRefused(
            RefusalReason.IN_RESPONSE_TO_MISSING,
            "the response has no InResponseTo but a login was started here",
        )
    raise SamlRefused(
        RefusalReason.IDP_INITIATED_NOT_ALLOWED,
        f"unsolicited response and {idp.slug} allows no IdP-initiated login",
    )
