"""One ceiling on request bodies for every URL, before anything reads them.

Django caps form fields (DATA_UPLOAD_MAX_MEMORY_SIZE) but streams file parts of a
multipart body to temporary files without limit, and the CSRF check parses any POST's
body; gunicorn sets no body limit either. So a huge upload to any POST URL (admin
included) would cost disk and time before a view could refuse it. This middleware
refuses a declared body above REQUEST_MAX_BODY_BYTES with 413 at once. Bodies without
a Content-Length (chunked) are never read by Django (it reads Content-Length bytes), so
the declared length is the whole story. Endpoints keep their own, smaller caps (SCIM,
the image API).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)


class RequestBodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        declared = request.META.get("CONTENT_LENGTH") or "0"
        limit = settings.REQUEST_MAX_BODY_BYTES
        try:
            length = int(declared)
        except ValueError:
            return JsonResponse(
                {"error": "bad_request", "detail": "Content-Length is not a number"}, status=400
            )
        if length > limit:
            logger.warning("request body refused", extra={"bytes": length, "limit": limit})
            return JsonResponse(
                {
                    "error": "request_too_large",
                    "detail": f"the request body is larger than {limit} bytes",
                },
                status=413,
            )
        return self.get_response(request)
