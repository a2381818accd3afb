"""SCIM errors, rendered as RFC 7644 §3.12 bodies.

Every ApplicationError becomes {"schemas", "status", "scimType"?, "detail"}; anything
else is logged with an error id and answered 500 without the exception text.
"""

from __future__ import annotations

import logging
import uuid

from axero_idp.errors import ApplicationError, RateLimited
from axero_idp.text import encodable
from scim.responses import ScimResponse

logger = logging.getLogger(__name__)

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


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
    body: dict[str, object] = {"schemas": [ERROR_SCHEMA], "status": str(status)}
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
    error_id = uuid.uuid4().hex
    logger.exception("unhandled SCIM error", extra={"error_id": error_id})
    return ScimResponse(
        error_body(500, f"Internal error; quote error id {error_id} to support."), status=500
    )
