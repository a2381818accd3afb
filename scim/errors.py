"""SCIM errors, rendered as RFC 7644 §3.12 bodies.

Every ApplicationError becomes {"schemas", "status", "scimType"?, "detail"}; anything
else is logged with an error reference and answered 500 without the exception text
(axero_idp.errors.server_error_body, shared with Bulk and the JSON API).
"""

from __future__ import annotations

from axero_idp.errors import (
    SCIM_ERROR_SCHEMA,
    ApplicationError,
    Protocol,
    RateLimited,
    server_error_body,
)
from axero_idp.text import encodable
from scim.responses import ScimResponse


class InvalidSyntax(ApplicationError):
    code = "invalid_syntax"
    http_status = 400
    scim_type = "invalidSyntax"


class NoTarget(ApplicationError):
    code = "no_target"
    http_status = 400
    scim_type = "noTarget"


class Mutability(ApplicationError):
    code = "mutability"
    http_status = 400
    scim_type = "mutability"


class PayloadTooLarge(ApplicationError):
    code = "too_large"
    http_status = 413


class TooManyOperations(PayloadTooLarge):
    """More bulk operations than ServiceProviderConfig advertises (RFC 7644 §3.7.4), or
    more operations in one PATCH than the server applies."""

    scim_type = "tooMany"


class Unauthorized(ApplicationError):
    code = "unauthorized"
    http_status = 401


class MethodNotAllowed(ApplicationError):
    code = "method_not_allowed"
    http_status = 405


def error_body(status: int, detail: str, scim_type: str | None = None) -> dict[str, object]:
    body: dict[str, object] = {"schemas": [SCIM_ERROR_SCHEMA], "status": str(status)}
    if scim_type:
        body["scimType"] = scim_type
    # A detail may echo what the client sent (an id, a header): it must stay encodable.
    body["detail"] = encodable(detail)
    return body


def error_response(exc: ApplicationError) -> ScimResponse:
    response = ScimResponse(
        error_body(exc.http_status, exc.detail, exc.scim_type), status=exc.http_status
    )
    if exc.http_status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="scim"'
    if isinstance(exc, MethodNotAllowed):
        response["Allow"] = ", ".join(exc.extra.get("allowed", []))
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


def server_error_response() -> ScimResponse:
    """The 500 of a SCIM request that failed unexpectedly (logged with its reference)."""
    return ScimResponse(server_error_body(Protocol.SCIM, failed="SCIM request"), status=500)
