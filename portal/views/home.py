"""/: who you are and where you belong; for an anonymous visitor, how to sign in."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from personas.selectors import spaces_of_user
from portal.context import render_page
from portal.people import REPORTS_SHOWN, person_card
from sso.selectors import idps_for_sign_in
from users.models import User
from users.selectors import direct_reports


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return sign_in(request)
    user: User = request.user  # type: ignore[assignment]
    reports, report_count = direct_reports(user.pk, limit=REPORTS_SHOWN)
    context = {
        "nav": "home",
        "me": person_card(user),
        "manager": person_card(user.manager) if user.manager else None,
        "reports": [person_card(r) for r in reports],
        "more_reports": report_count - len(reports),
        "reports_url": reverse("portal:reports", args=[user.pk]),
        "spaces": spaces_of_user(user.pk),
    }
    return render_page(request, "portal/home.html", context)


def sign_in(request: HttpRequest) -> HttpResponse:
    """One button per active identity provider, each starting its SAML login with the
    page the visitor wanted (sso validates it); with several, the email routing too."""
    wanted = request.GET.get("next", "")
    query = f"?{urlencode({'next': wanted})}" if wanted else ""
    providers = [
        {"name": str(idp), "url": reverse("sso:login", args=[idp.slug]) + query}
        for idp in idps_for_sign_in()
    ]
    context = {"providers": providers, "email_routing": f"/sso/{query}"}
    return render_page(request, "portal/sign_in.html", context)


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    """The local sign-out (a session no SAML login opened): CSRF-checked POST only."""
    logout(request)
    return HttpResponseRedirect("/")
