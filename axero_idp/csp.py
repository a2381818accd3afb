"""A Content-Security-Policy on every HTML page.

Strict: scripts, styles, images and fonts from this site only, plus inline <script> and
<style> blocks carrying the request's nonce (`{{ request.csp_nonce }}` in a template);
no plugins, no framing, no <base>, forms post to this site. Django admin and DRF's
browsable API need nothing more (their scripts are files, their data in attributes).
A page that must post a form elsewhere (the SAML POST binding to the IdP) names that
origin with `csp_form_action_allow`. A response that sets its own policy keeps it (the
image API answers `default-src 'none'`); DEBUG's error pages get none.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"
_FORM_ACTION_ATTR = "csp_form_action"


def csp_policy(nonce: str, form_action: list[str] | None = None) -> str:
    directives = {
        "default-src": ["'none'"],
        "script-src": ["'self'", f"'nonce-{nonce}'"],
        "style-src": ["'self'", f"'nonce-{nonce}'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'", *(form_action or [])],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def csp_form_action_allow(response: HttpResponse, url: str | None) -> None:
    """Let this page's forms post to `url`'s origin as well as to this site."""
    parts = urlsplit(url or "")
    if parts.scheme in ("http", "https") and parts.netloc:
        allowed = getattr(response, _FORM_ACTION_ATTR, [])
        setattr(response, _FORM_ACTION_ATTR, [*allowed, f"{parts.scheme}://{parts.netloc}"])


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        nonce = secrets.token_urlsafe(16)
        request.csp_nonce = nonce  # type: ignore[attr-defined]
        response = self.get_response(request)
        is_html = response.get("Content-Type", "").startswith("text/html")
        # DEBUG's technical error pages are all inline styles and scripts.
        debug_page = settings.DEBUG and response.status_code >= 400
        if is_html and HEADER not in response and not debug_page:
            response[HEADER] = csp_policy(nonce, getattr(response, _FORM_ACTION_ATTR, None))
        return response
