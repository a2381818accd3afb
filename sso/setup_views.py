"""The setup link's pages (users.services.setup_links): the customer's IT admin, with
no account here, sees the connection's values and steps, submits the IdP's metadata and
runs a test login. The link's token is exchanged for a claim in the browser's session
at once, so it leaves the address bar (and never rides a Referer to the IdP)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from axero_idp.csp import csp_form_action_allow
from axero_idp.errors import ApplicationError, Forbidden, ValidationFailed
from sso.browser_binding import browser_binding_new, browser_binding_read
from sso.connection_values import ConnectionValues
from sso.forms import MetadataForm
from sso.login import authn_request_start
from sso.models import IdentityProvider
from sso.presets import preset_for
from sso.preview import SETUP_LINK_STARTER
from sso.selectors import connection_is_live
from sso.services import idp_import_for_connection
from sso.views import login_response
from users.models import SetupLink
from users.services import audit_record
from users.services.setup_links import (
    setup_link_actor,
    setup_link_claim,
    setup_link_for_session,
)

LINK_KEY = "setup_link"
CLAIM_KEY = "setup_link_claim"


def _refused(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return render(request, "sso/setup_refused.html", {"detail": exc.detail}, status=exc.http_status)


@require_GET
def setup_open(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link, secret = setup_link_claim(
            raw=token[:200], claim_secret=request.session.get(CLAIM_KEY)
        )
    except ApplicationError as exc:
        return _refused(request, exc)
    request.session[LINK_KEY], request.session[CLAIM_KEY] = link.pk, secret
    response = HttpResponseRedirect(reverse("sso_setup:page"))
    response["Referrer-Policy"] = "no-referrer"
    return response


def _claimed(request: HttpRequest) -> SetupLink:
    return setup_link_for_session(
        link_id=request.session.get(LINK_KEY), claim_secret=request.session.get(CLAIM_KEY)
    )


def _page(
    request: HttpRequest, link: SetupLink, form: MetadataForm, status: int = 200
) -> HttpResponse:
    connection = link.connection
    idp = IdentityProvider.objects.filter(slug=connection.slug).first()
    context = {
        "link": link,
        "connection": connection,
        "preset": preset_for(connection.vendor),
        "values": ConnectionValues.for_slug(connection.slug),
        "idp": idp,
        "metadata_form": form,
        "steps_template": f"admin/console/steps/{preset_for(connection.vendor).vendor}.html",
    }
    response = render(request, "sso/setup.html", context, status=status)
    # Not no-referrer: under it browsers send "Origin: null" with this page's own form
    # posts, which CSRF refuses (found by the browser test). This URL holds no secret.
    response["Referrer-Policy"] = "same-origin"
    if idp is not None:
        # The test login form posts here and is redirected on to the IdP.
        csp_form_action_allow(response, idp.sso_url)
    return response


@require_GET
def setup_page(request: HttpRequest) -> HttpResponse:
    try:
        return _page(request, _claimed(request), MetadataForm())
    except ApplicationError as exc:
        return _refused(request, exc)


@require_POST
def setup_metadata(request: HttpRequest) -> HttpResponse:
    try:
        link = _claimed(request)
    except ApplicationError as exc:
        return _refused(request, exc)
    if connection_is_live(link.connection.slug):
        return _refused(
            request,
            Forbidden(
                "people sign in through this connection now: only an administrator may change its metadata"
            ),
        )
    form = MetadataForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, link, form, status=400)
    try:
        idp_import_for_connection(
            connection=link.connection,
            actor=setup_link_actor(link),
            metadata_xml=form.metadata_bytes(),
            metadata_url=form.cleaned_data.get("metadata_url") or None,
        )
    except ApplicationError as exc:
        form.add_error(None, exc.detail)
        return _page(request, link, form, status=400)
    return HttpResponseRedirect(reverse("sso_setup:page") + "?imported=1")


@require_POST
def setup_test_login(request: HttpRequest) -> HttpResponse:
    try:
        link = _claimed(request)
        idp = IdentityProvider.objects.filter(slug=link.connection.slug, is_active=True).first()
        if idp is None:
            raise ValidationFailed("import the identity provider's metadata first")
    except ApplicationError as exc:
        return _refused(request, exc)
    browser = browser_binding_read(request) or browser_binding_new()
    start = authn_request_start(
        idp=idp, browser=browser, next_path=None, dry_run_by=f"{SETUP_LINK_STARTER}{link.pk}"
    )
    audit_record(actor=setup_link_actor(link), action="saml.test_login_started", target=idp)
    return login_response(request, start, browser)
