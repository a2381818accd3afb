"""The one application error hierarchy.

Domain services raise these; each protocol renders them in its own dialect (SCIM as
an RFC 7644 error body, the JSON API as {"error", "detail"}, SAML as a refusal page).
`scim_type` is the RFC 7644 §3.12 keyword, when one fits.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    code = "error"
    http_status = 400
    scim_type: str | None = None

    def __init__(self, detail: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}


class ValidationFailed(ApplicationError):
    code = "invalid"
    http_status = 400
    scim_type = "invalidValue"


class UniquenessConflict(ApplicationError):
    code = "uniqueness"
    http_status = 409
    scim_type = "uniqueness"


class NotFound(ApplicationError):
    code = "not_found"
    http_status = 404


class PreconditionFailed(ApplicationError):
    code = "precondition_failed"
    http_status = 412


class Forbidden(ApplicationError):
    code = "forbidden"
    http_status = 403


class RateLimited(ApplicationError):
    """Over a configured request rate; `retry_after` seconds until the window ends."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, extra={"retry_after": retry_after})
        self.retry_after = retry_after


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF handler for the JSON API: application errors as {"error", "detail"};
    unexpected ones as a 500 carrying an error id, never the exception text."""
    if isinstance(exc, ApplicationError):
        return Response({"error": exc.code, "detail": exc.detail}, status=exc.http_status)
    response = exception_handler(exc, context)
    if response is not None:
        return response
    if isinstance(exc, drf_exceptions.APIException):  # pragma: no cover - handled above
        return None
    error_id = uuid.uuid4().hex
    logger.exception("unhandled API error", extra={"error_id": error_id})
    return Response({"error": "server_error", "error_id": error_id}, status=500)
