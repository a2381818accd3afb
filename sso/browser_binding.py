"""The browser binding cookie: which browser started an SP-initiated login.

Outstanding AuthnRequest IDs are bound to a random id kept in this cookie, so that a
response for request R is accepted only from the browser that asked for R (login CSRF).
It is not the session: the session key changes at login, and the session cookie is
SameSite=Lax, which the IdP's cross-site POST to the ACS never carries.

On an https SITE_URL the cookie is SameSite=None; Secure, so a real browser sends it
with that cross-site POST and the ACS can complete the login at once. On an http
SITE_URL (local runs) browsers refuse SameSite=None without Secure, so it is Lax there:
the POST arrives without it and the ACS falls back to the same-site hop, whose GET
carries it. The value is signed (and timestamped), so a forged or stale cookie reads as
absent and binds nothing.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Final

from django.conf import settings
from django.http import HttpRequest, HttpResponse

COOKIE_NAME: Final = "axero_sso_browser"
COOKIE_PATH: Final = "/sso/"
# Longer than an outstanding request lives (sso.login.REQUEST_LIFETIME, 10 minutes),
# and renewed at every /login/, so a request never outlives its binding.
COOKIE_LIFETIME: Final = dt.timedelta(minutes=15)
_SALT: Final = "sso.browser_binding"


def browser_binding_read(request: HttpRequest) -> str | None:
    """The browser id of a validly signed, unexpired binding cookie; else None."""
    value = request.get_signed_cookie(
        COOKIE_NAME, default=None, salt=_SALT, max_age=COOKIE_LIFETIME
    )
    return value or None


def browser_binding_new() -> str:
    return secrets.token_urlsafe(24)


def _site_is_https() -> bool:
    # Read at call time: SITE_URL decides the transport (and tests override it).
    return str(settings.SITE_URL).startswith("https://")


def browser_binding_set(response: HttpResponse, browser: str) -> None:
    """(Re)issue the cookie on the /login/ response, with a fresh lifetime."""
    secure = _site_is_https()
    response.set_signed_cookie(
        COOKIE_NAME,
        browser,
        salt=_SALT,
        max_age=int(COOKIE_LIFETIME.total_seconds()),
        path=COOKIE_PATH,
        secure=secure,
        httponly=True,
        samesite="None" if secure else "Lax",
    )
