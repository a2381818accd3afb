"""SCIM errors, rendered as RFC 7644 §3.12 bodies.

Every ApplicationError becomes {"schemas", "status", "scimType"?, "detail"}; anything
else is logged with an error reference and answered 500 without the exception text
(axero_idp.errors.server_error_body, shared with Bulk and the JSON API).
"""

from __future__ import annotations

import logging
import uuid
from typing import Final

from axero_idp.errors import (
    SCIM_ERROR_SCHEMA,
    ApplicationError,
    Protocol,
    RateLimited,
    server_error_body,
)
from axero_idp.request_id import current_request_id
from axero_idp.text import encodable
from scim.responses import ScimResponse

logger = logging.getLogger(__name__)

# What a SCIM client is told to wait when the database cannot serve it: a restart or a
# failover is over within seconds, and every IdP retries a 503 with Retry-After.
DATABASE_RETRY_AFTER: Final = 30


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


def database_unavailable_response() -> ScimResponse:
    """The 503 of a SCIM request the database could not serve (down, restarting, a
    dropped connection, a deadlock or a cancelled statement: django.db's
    OperationalError and InterfaceError). Nothing was stored (the change was one
    transaction), so the IdP may send it again: Retry-After says when. Some IdPs record a
    500 as a failed push and move on; a 503 they retry."""
    reference = current_request_id() or uuid.uuid4().hex
    logger.warning(
        "SCIM request: database unavailable; error id %s",
        reference,
        exc_info=True,
        extra={"error_id": reference},
    )
    detail = f"The directory is briefly unavailable; retry later (error id {reference})."
    response = ScimResponse(error_body(503, detail), status=503)
    response["Retry-After"] = str(DATABASE_RETRY_AFTER)
    return response
