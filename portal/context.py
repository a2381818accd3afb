"""Every employee page goes through render_page(): the layout's sign-out button posts to the
IdP's single logout when the session came from a SAML login, else to the local one."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from axero_idp.csp import csp_form_action_allow
from sso.selectors import saml_session_of


def render_page(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    """Render an employee page with its sign-out button (one query when signed in)."""
    saml_session = None
    if request.user.is_authenticated:
        saml_session = saml_session_of(request.session.session_key)
        context["sign_out_url"] = (
            reverse("sso:logout", args=[saml_session.idp.slug])
            if saml_session is not None
            else reverse("portal:sign-out")
        )
    response = render(request, template, context, status=status)
    if saml_session is not None:
        # The logout POST is answered by a redirect to the IdP, which the browser only
        # follows if this page's form-action allows that origin.
        csp_form_action_allow(response, saml_session.idp.slo_url)
    return response
