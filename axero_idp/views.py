"""Project-wide pages: the error pages show a reference, never the exception."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from axero_idp.request_id import current_request_id

logger = logging.getLogger(__name__)


def server_error(request: HttpRequest) -> HttpResponse:
    # The traceback is logged by django.request with the same request id.
    reference = current_request_id() or getattr(request, "request_id", "")
    logger.error("server error page shown", extra={"reference": reference})
    if request.path.startswith(("/api/", "/scim/")):
        return HttpResponse(
            f'{{"error": "server_error", "reference": "{reference}"}}',
            status=500,
            content_type="application/json",
        )
    html = render_to_string(
        "500.html", {"reference": reference, "csp_nonce": getattr(request, "csp_nonce", "")}
    )
    return HttpResponse(html, status=500)
