"""Thin SAML endpoints (INTERFACES.md §4). Every refusal becomes a short page with a
support reference, one log line and one audit event (sso.outcomes)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from axero_idp.client_address import client_address
from axero_idp.csp import csp_form_action_allow
from axero_idp.errors import ApplicationError, RateLimited
from axero_idp.limits import rate_limit_check, sample_allow
from sso.browser_binding import browser_binding_new, browser_binding_read, browser_binding_set
from sso.hop import pending_response_park
from sso.inbound import ValidLogin, response_decode
from sso.login import (
    LoginOutcome,
    LoginStart,
    Parked,
    Posted,
    authn_request_start,
    completes_in_post,
    login_complete,
)
from sso.logout import sls_handle, sp_logout_start
from sso.metadata import sp_metadata_xml, sp_metadata_xml_pending
from sso.models import IdentityProvider
from sso.outcomes import refusal_record
from sso.preview import ADMIN_STARTER, SETUP_LINK_STARTER
from sso.redirects import safe_next
from sso.refusals import RefusalReason, SamlRefused
from sso.selectors import (
    connection_awaiting_metadata,
    idp_active,
    idp_for_email,
    idps_for_sign_in,
    test_login_waiting,
)
from users.selectors import connection_get
from users.services import Actor, audit_record

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponse]


def refusal_audited(slug: str, refused: SamlRefused) -> bool:
    """Whether a refusal earns an audit row: anyone can send garbage to any URL, so an
    unknown slug never does and a known IdP's refusals at most a few per minute (the
    rest are logged with their reference), which keeps its "recent refusals" readable."""
    if refused.reason == RefusalReason.UNKNOWN_IDP:
        return False
    return sample_allow(
        f"saml-refusals:{slug[:50]}", per_minute=settings.SAML_REFUSAL_AUDIT_PER_MINUTE
    )


def refusal_page(
    request: HttpRequest,
    slug: str,
    refused: SamlRefused,
    action: str,
    valid: ValidLogin | None = None,
) -> HttpResponse:
    """valid: what of a refused login was validated (kept with its login flow)."""
    started_by = (
        test_login_waiting(slug, browser_binding_read(request))
        if action == "saml.login_refused"
        else ""
    )
    reference = refusal_record(
        slug=slug,
        refused=refused,
        action=action,
        audit=refusal_audited(slug, refused),
        valid=valid,
        dry_run=bool(started_by),
    )
    if started_by:
        return test_login_page(request, slug, started_by, None, refused, reference)
    context = {
        "message": refused.user_message,
        "reason": refused.reason,
        "reference": reference,
        "retry_url": reverse("sso:login", args=[slug])
        if refused.reason not in (RefusalReason.UNKNOWN_IDP, RefusalReason.METADATA_MISSING)
        else "/",
    }
    return render(request, "sso/refused.html", context, status=refused.http_status)


def idp_or_refuse(slug: str) -> IdentityProvider:
    """The active IdP of the URL, or the refusal that says why there is none."""
    idp = idp_active(slug)
    if idp is not None:
        return idp
    if connection_awaiting_metadata(slug):
        raise SamlRefused(
            RefusalReason.METADATA_MISSING,
            f"connection {slug!r} exists but its identity provider's metadata is not imported",
        )
    raise SamlRefused(RefusalReason.UNKNOWN_IDP, f"no active identity provider {slug!r}")


def with_idp(action: str = "saml.login_refused") -> Callable[[View], View]:
    """Resolve the active IdP of the URL and turn every SamlRefused into a refusal page."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                return view(request, idp_or_refuse(slug), *args, **kwargs)
            except SamlRefused as refused:
                return refusal_page(request, slug, refused, action)
            except RequestDataTooBig:
                too_big = SamlRefused(
                    RefusalReason.MALFORMED, "the POST is larger than the server accepts"
                )
                return refusal_page(request, slug, too_big, action)
            except ApplicationError as exc:
                # A directory rule the assertion broke (an over-long username, ...).
                return refusal_page(
                    request, slug, SamlRefused(RefusalReason.VALIDATION, exc.detail), action
                )

        return wrapper

    return decorate


@require_GET
@with_idp()
def login(request: HttpRequest, idp: IdentityProvider) -> HttpResponse:
    # One id per browser (kept across logins in several tabs), renewed with each request.
    browser = browser_binding_read(request) or browser_binding_new()
    start = authn_request_start(
        idp=idp,
        browser=browser,
        next_path=request.GET.get("next"),
        login_hint=login_hint_clean(request.GET.get("login_hint", "")),
    )
    return login_response(request, start, browser)


# An admin's test login (dry run): a CSRF-checked POST from the connection page. The
# answer is shown to this browser and never applied (sso.preview).
@require_POST
@with_idp()
def test_login(request: HttpRequest, idp: IdentityProvider) -> HttpResponse:
    if not request.user.has_perm("sso.change_identityprovider"):
        raise PermissionDenied
    browser = browser_binding_read(request) or browser_binding_new()
    admin = ADMIN_STARTER + request.user.get_username()
    start = authn_request_start(idp=idp, browser=browser, next_path=None, dry_run_by=admin)
    audit_record(actor=Actor.admin(request.user), action="saml.test_login_started", target=idp)
    return login_response(request, start, browser)


def login_response(request: HttpRequest, start: LoginStart, browser: str) -> HttpResponse:
    response: HttpResponse
    if start.redirect_url:
        response = HttpResponseRedirect(start.redirect_url)
    else:
        response = render(
            request, "sso/autopost.html", {"action": start.post_url, "fields": start.post_fields}
        )
        csp_form_action_allow(response, start.post_url)  # the POST binding posts to the IdP
    browser_binding_set(response, browser)
    return response


# The IdP's cross-site POST: the only CSRF-exempt login view. Login CSRF is stopped by
# binding InResponseTo to the browser binding cookie (or, for IdP-initiated login, only
# where the IdP is allowed to send unsolicited responses).
@csrf_exempt
@require_POST
@with_idp()
def acs(request: HttpRequest, idp: IdentityProvider) -> HttpResponse:
    try:
        rate_limit_check(
            f"saml-acs:{idp.pk}",
            per_minute=settings.SAML_ACS_RATE_LIMIT_PER_MINUTE,
            what=f"identity provider {idp.slug}",
        )
    except RateLimited as exc:
        raise SamlRefused(RefusalReason.RATE_LIMITED, exc.detail) from exc
    saml_response = request.POST.get("SAMLResponse", "")
    if not saml_response.strip():
        raise SamlRefused(RefusalReason.MALFORMED, "the POST carries no SAML response")
    relay_state = request.POST.get("RelayState", "")
    # Garbage is refused here, before anything is parked or validated.
    decoded = response_decode(saml_response)
    root = decoded.root
    browser = browser_binding_read(request)
    if completes_in_post(idp=idp, root=root, browser=browser):
        outcome = login_complete(
            request=request,
            idp=idp,
            transport=Posted(saml_response, relay_state, decoded),
            browser=browser,
        )
        return login_outcome_response(request, idp, outcome, status=303)
    # No binding arrived (an http SITE_URL: the cookie is Lax): hop to a same-site GET.
    key = pending_response_park(
        idp=idp,
        saml_response=saml_response,
        root=root,
        relay_state=relay_state,
        client=client_address(request),
    )
    url = reverse("sso:acs_complete", args=[idp.slug]) + "?" + urlencode({"k": key})
    return HttpResponseRedirect(url, status=303)


@require_GET
@with_idp()
def acs_complete(request: HttpRequest, idp: IdentityProvider) -> HttpResponse:
    outcome = login_complete(
        request=request,
        idp=idp,
        transport=Parked(key=request.GET.get("k", "")[:100]),
        browser=browser_binding_read(request),
    )
    return login_outcome_response(request, idp, outcome)


def login_outcome_response(
    request: HttpRequest, idp: IdentityProvider, outcome: LoginOutcome, status: int = 302
) -> HttpResponse:
    if outcome.refused is not None:
        return refusal_page(request, idp.slug, outcome.refused, "saml.login_refused", outcome.valid)
    if outcome.preview is not None:
        return test_login_page(request, idp.slug, outcome.preview.started_by, outcome, None, "")
    return HttpResponseRedirect(outcome.next_path, status=status)


def test_login_page(
    request: HttpRequest,
    slug: str,
    started_by: str,
    done: LoginOutcome | None,
    refused: SamlRefused | None,
    reference: str,
) -> HttpResponse:
    """A test login's answer, for the admin who started it: what would have happened,
    or the full reason of the refusal and what to change."""
    context = {
        "slug": slug,
        "preview": done.preview if done else None,
        "refused": refused,
        "reference": reference,
        "connection_url": reverse("sso_setup:page")
        if started_by.startswith(SETUP_LINK_STARTER)
        else _connection_admin_url(slug),
    }
    status = refused.http_status if refused is not None else 200
    response = render(request, "sso/test_login.html", context, status=status)
    add_never_cache_headers(response)
    return response


def _connection_admin_url(slug: str) -> str:
    connection = connection_get(slug)
    if connection is None:
        return reverse("admin:index")
    return reverse("admin:users_connection_change", args=[connection.pk])


@require_GET
def metadata(request: HttpRequest, slug: str) -> HttpResponse:
    # Served from the moment the connection exists: IdPs that want the SP's metadata
    # first (before theirs is imported here) must be able to read it.
    if idp_active(slug) is None and connection_awaiting_metadata(slug):
        return _metadata_response(sp_metadata_xml_pending(slug))
    return _metadata_of_idp(request, slug)


@with_idp()
def _metadata_of_idp(request: HttpRequest, idp: IdentityProvider) -> HttpResponse:
    return _metadata_response(sp_metadata_xml(idp))


def _metadata_response(xml: str) -> HttpResponse:
    return HttpResponse(xml, content_type="application/samlmetadata+xml")


# The IdP's logout messages arrive cross-site like the ACS POST; they are accepted only
# with a valid IdP signature, which is what protects this endpoint.
@csrf_exempt
@require_http_methods(["GET", "POST"])
@with_idp(action="saml.logout_refused")
def sls(request: HttpRequest, idp: IdentityProvider) -> HttpResponse:
    return HttpResponseRedirect(sls_handle(request=request, idp=idp))


# A cross-site link or image must not sign anyone out: GET only asks, and the answer is
# a POST the CSRF middleware checks.
@require_http_methods(["GET", "POST"])
@with_idp(action="saml.logout_refused")
def logout(request: HttpRequest, idp: IdentityProvider) -> HttpResponse:
    if request.method == "GET":
        response = render(request, "sso/logout_confirm.html")
        # The POST is answered by a redirect to the IdP's logout endpoint, which the
        # browser follows only if the page's form-action allows it (CSP applies it to
        # the redirect too).
        csp_form_action_allow(response, idp.slo_url)
        return response
    return HttpResponseRedirect(sp_logout_start(request=request, idp=idp))


@require_GET
def logged_out(request: HttpRequest, slug: str) -> HttpResponse:
    return render(request, "sso/logged_out.html", {"login_url": reverse("sso:login", args=[slug])})


def login_hint_clean(value: str) -> str:
    """An email address to pass on as a login hint, or "" for anything else."""
    value = value.strip()
    try:
        validate_email(value)
    except ValidationError:
        return ""
    return value if len(value) <= 254 else ""


def _login_url(idp: IdentityProvider, next_path: str | None, login_hint: str = "") -> str:
    query = {"next": safe_next(next_path)}
    if login_hint:
        query["login_hint"] = login_hint
    return f"{reverse('sso:login', args=[idp.slug])}?{urlencode(query)}"


# /sso/: where "Sign in" goes when the site does not know which identity provider the
# person uses. One active IdP: straight there; several: ask for the work email and send
# the person to the IdP that lists its domain, with the address as a login hint.
@require_http_methods(["GET", "POST"])
def route(request: HttpRequest) -> HttpResponse:
    idps = idps_for_sign_in()
    next_path = request.POST.get("next") if request.method == "POST" else request.GET.get("next")
    if len(idps) == 1:
        return HttpResponseRedirect(_login_url(idps[0], next_path))
    context: dict[str, Any] = {"idps": idps, "next": safe_next(next_path), "email": ""}
    if request.method == "POST" and idps:
        email = login_hint_clean(request.POST.get("email", ""))
        context["email"] = request.POST.get("email", "")[:254]
        idp = idp_for_email(email) if email else None
        if idp is not None:
            return HttpResponseRedirect(_login_url(idp, next_path, email))
        context["error"] = (
            "That is not an email address."
            if not email
            else "No sign-in is set up for that email domain: choose your organisation below."
        )
    status = 200 if idps else 503
    return render(request, "sso/route.html", context, status=400 if "error" in context else status)
