"""What every employee page's layout needs: where its sign-out button posts."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from sso.selectors import saml_session_of


def sign_out_url(request: HttpRequest) -> str:
    """The IdP's single logout (a confirmation page that signs out on POST) when this
    session came from a SAML login, else the local sign-out."""
    saml_session = saml_session_of(request.session.session_key)
    if saml_session is None:
        return reverse("portal:sign-out")
    return reverse("sso:logout", args=[saml_session.idp.slug])


def layout(request: HttpRequest) -> dict[str, Any]:
    # Lazy: a page that never shows the button (anonymous, JSON) costs no query.
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {"sign_out_url": SimpleLazyObject(lambda: sign_out_url(request))}
