"""The one application error hierarchy.

Domain services raise these; each protocol renders them in its own dialect (SCIM as
an RFC 7644 error body, the JSON API as {"error", "detail"}, SAML as a refusal page).
`scim_type` is the RFC 7644 §3.12 keyword, when one fits.
"""

from __future__ import annotations

import enum
import logging
import uuid
from collections.abc import Mapping
from typing import Any, NoReturn, Self

from django.db import IntegrityError, connection, models
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from axero_idp.request_id import current_request_id

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


def constraint_name(exc: IntegrityError) -> str | None:
    """The name of the constraint a database error broke, from the driver's diagnostics
    (psycopg2 puts PostgreSQL's error fields on the error Django wraps); None for a
    NOT NULL violation and the like."""
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)


def raise_for_constraint(exc: IntegrityError, conflicts: Mapping[str, str]) -> NoReturn:
    """Raise UniquenessConflict with the detail `conflicts` gives for the constraint
    `exc` broke; re-raise any other integrity error, a real server error.

    By name, never by the error's text: the text of a NOT NULL violation on
    "username" names the column too, and was once answered 409 uniqueness."""
    detail = conflicts.get(constraint_name(exc) or "")
    if detail is None:
        raise exc
    raise UniquenessConflict(detail) from exc


def raise_for_unique_field(
    exc: IntegrityError, *, model: type[models.Model], field: str, detail: str
) -> NoReturn:
    """raise_for_constraint for a field declared `unique=True`, whose constraint Django
    names with a hash: the names come from the table's own catalogue (one query, on this
    error path only)."""
    column = model._meta.get_field(field).column  # type: ignore[union-attr]  # a concrete field
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
    names = [
        name
        for name, constraint in constraints.items()
        if constraint["unique"] and constraint["columns"] == [column]
    ]
    raise_for_constraint(exc, dict.fromkeys(names, detail))


SCIM_ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class Protocol(enum.Enum):
    """Who reads a 500 body: a SCIM client (RFC 7644 §3.12) or a JSON API client."""

    SCIM = "scim"
    JSON = "json"


def server_error_body(protocol: Protocol, *, failed: str) -> dict[str, Any]:
    """Log the exception being handled, with its traceback and an error reference, and
    return the 500 body for `protocol`: the reference, never the exception's text.

    The reference is the request id (the one support reference of the request, on every
    log line and audit event of it and on the 500 and refusal pages), or a fresh id
    outside a request. `failed` says what failed, for the log line."""
    reference = current_request_id() or uuid.uuid4().hex
    logger.exception("%s failed; error id %s", failed, reference, extra={"error_id": reference})
    if protocol is Protocol.SCIM:
        return {
            "schemas": [SCIM_ERROR_SCHEMA],
            "status": "500",
            "detail": f"Internal error; quote error id {reference} to support.",
        }
    return {"error": "server_error", "error_id": reference}


class ErrorReason(enum.StrEnum):
    """A stable reason code (the member's value, stored and documented) that carries its
    HTTP status, what the person reads and what an admin changes. Subclasses list the
    members as (code, status, user message, admin hint)."""

    http_status: int
    user_message: str
    admin_hint: str

    def __new__(
        cls, code: str, http_status: int, user_message: str, admin_hint: str
    ) -> ErrorReason:
        member = str.__new__(cls, code)
        member._value_ = code
        member.http_status = http_status
        member.user_message = user_message
        member.admin_hint = admin_hint
        return member

    @classmethod
    def of(cls, code: str) -> Self:
        """The member whose code is `code`; ValueError for none."""
        return cls(code)  # type: ignore[call-arg]  # Enum's lookup by value, not __new__


class ReasonedError(ApplicationError):
    """An application error whose reason (an ErrorReason) decides its HTTP status and
    the texts shown for it; `detail` is the full technical message."""

    def __init__(self, reason: ErrorReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.http_status = reason.http_status

    @property
    def user_message(self) -> str:
        return self.reason.user_message

    @property
    def admin_hint(self) -> str:
        return self.reason.admin_hint


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
    return Response(server_error_body(Protocol.JSON, failed="API request"), status=500)
