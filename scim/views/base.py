"""The one wrapper around every SCIM endpoint: authenticate, bound the body, dispatch,
turn errors into RFC 7644 bodies, and write the request log."""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponseBase
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from axero_idp.errors import ApplicationError, ValidationFailed
from axero_idp.limits import rate_limit_check, sample_allow
from axero_idp.request_id import current_request_id
from axero_idp.text import unstorable_char, unstorable_message
from scim.attributes import InvalidFilter
from scim.auth import token_authenticate
from scim.errors import (
    InvalidSyntax,
    MethodNotAllowed,
    PayloadTooLarge,
    Unauthorized,
    database_unavailable_response,
    error_response,
    server_error_response,
)
from scim.models import ScimToken
from scim.requestlog import request_log_write
from users.services import Actor

logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32


def max_body_bytes() -> int:
    return int(getattr(settings, "SCIM_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES))


@dataclass
class ScimContext:
    """What a handler needs of the request: who, the raw body, and the query string."""

    token: ScimToken
    request: HttpRequest
    body: bytes = b""
    _json: Any = field(default=None, repr=False)
    # Attribute names the handler received but could map to no field (the request log).
    ignored: list[str] = field(default_factory=list)

    @property
    def actor(self) -> Actor:
        return Actor.scim(self.token.name, self.token.connection_id)

    @property
    def params(self) -> Any:
        return self.request.GET

    def header(self, name: str) -> str | None:
        return self.request.headers.get(name)

    def json(self) -> dict[str, Any]:
        """The body as a JSON object (invalidSyntax otherwise)."""
        if self._json is None:
            if not self.body.strip():
                raise InvalidSyntax("The request body is empty; a JSON object is expected.")
            try:
                parsed = json.loads(
                    self.body, parse_constant=_refuse_constant, parse_float=_finite_float
                )
            except json.JSONDecodeError as exc:
                raise InvalidSyntax(f"The request body is not valid JSON: {exc}") from exc
            except UnicodeDecodeError as exc:
                raise InvalidSyntax("The request body is not UTF-8 text.") from exc
            except (ValueError, RecursionError) as exc:
                # Python's own limits (integer digits, nesting): its message names
                # interpreter internals, not the client's mistake.
                raise InvalidSyntax(
                    "The request body is not valid JSON: a number is too long "
                    "or the nesting too deep."
                ) from exc
            if not isinstance(parsed, dict):
                raise InvalidSyntax("The request body must be a JSON object.")
            _refuse_unstorable(parsed)
            self._json = parsed
        return self._json


def _refuse_constant(name: str) -> Any:
    # Python's json reads NaN and Infinity, which JSON (RFC 8259) does not have and
    # PostgreSQL's jsonb cannot store.
    raise InvalidSyntax(f"The request body is not valid JSON: {name} is not a JSON number.")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidSyntax(f"The request body is not valid JSON: {text[:40]} is out of range.")
    return value


def _refuse_unstorable(value: dict[str, Any]) -> None:
    """NUL and lone surrogates ("\\ud800") cannot be stored or encoded: refuse them here
    rather than fail on write, on render or in the request log.

    Nesting is bounded too: the deepest real body (a Bulk PATCH of members) is under
    ten levels, and the recursive walks after this one (Bulk's bulkId resolution,
    the request log's redaction) would otherwise hit Python's recursion limit.
    """
    stack: list[tuple[dict[str, Any] | list[Any], int]] = [(value, 1)]
    while stack:
        container, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise InvalidSyntax(f"The request body nests deeper than {MAX_JSON_DEPTH} levels.")
        texts: list[str] = list(container) if isinstance(container, dict) else []
        children = container.values() if isinstance(container, dict) else container
        for child in children:
            if isinstance(child, str):
                texts.append(child)
            elif isinstance(child, dict | list):
                stack.append((child, depth + 1))
        _refuse_unstorable_texts(texts, error=ValidationFailed)


def _refuse_unstorable_texts(texts: list[str], *, error: type[ApplicationError]) -> None:
    for text in texts:
        char = unstorable_char(text)
        if char is not None:
            raise error(unstorable_message(char))


def _refuse_unstorable_params(request: HttpRequest) -> None:
    """The query string: a filter is invalidFilter, any other parameter invalidValue."""
    for name, values in request.GET.lists():
        kind = InvalidFilter if name == "filter" else ValidationFailed
        _refuse_unstorable_texts([name, *values], error=kind)


def _read_body(request: HttpRequest) -> bytes:
    """At most the configured limit, checked before anything parses the body."""
    limit = max_body_bytes()
    declared = request.META.get("CONTENT_LENGTH") or "0"
    try:
        length = int(declared)
    except ValueError as exc:
        raise InvalidSyntax("Content-Length is not a number.") from exc
    if length > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    raw = request.read(limit + 1) if length else b""
    if len(raw) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    return raw


class ScimView(View):
    """Handlers are methods named after the HTTP verb: `get(self, ctx, **kwargs)`."""

    http_method_names = ["get", "post", "put", "patch", "delete"]

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        # Bearer-token API, no cookies: CSRF protection does not apply.
        return csrf_exempt(super().as_view(**initkwargs))

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        started = time.monotonic()
        token: ScimToken | None = None
        body = b""
        ctx: ScimContext | None = None
        try:
            token = token_authenticate(request.headers.get("Authorization"))
            if token is None:
                raise Unauthorized("A valid bearer token is required.")
            rate_limit_check(
                f"scim-token:{token.pk}",
                per_minute=settings.SCIM_RATE_LIMIT_PER_MINUTE,
                what=f"SCIM token {token.name!r}",
            )
            body = _read_body(request)
            _refuse_unstorable_params(request)
            method = (request.method or "").lower()
            handler = getattr(self, method, None) if method in self.http_method_names else None
            if handler is None:
                allowed = [m.upper() for m in self.http_method_names if hasattr(self, m)]
                raise MethodNotAllowed(
                    f"{request.method} is not allowed here.", extra={"allowed": allowed}
                )
            ctx = ScimContext(token=token, request=request, body=body)
            response = handler(ctx, **kwargs)
        except ApplicationError as exc:
            response = error_response(exc)
        except (OperationalError, InterfaceError):
            response = database_unavailable_response()
        except Exception:
            response = server_error_response()
        ignored = ctx.ignored if ctx is not None else []
        self._log(request, response, token=token, body=body, started=started, ignored=ignored)
        return response

    def _log(
        self,
        request: HttpRequest,
        response: HttpResponseBase,
        *,
        token: ScimToken | None,
        body: bytes,
        started: float,
        ignored: list[str],
    ) -> None:
        """The request log row; without a valid token, a log line and a sampled row
        (anyone can send those, and each row is kept for weeks)."""
        if token is None:
            logger.info("SCIM request without a valid token: %s %s", request.method, request.path)
            per_minute = settings.SCIM_UNAUTHENTICATED_LOG_PER_MINUTE
            if not sample_allow("scim-unauthenticated-requests", per_minute=per_minute):
                return
        data = getattr(response, "data", None)
        failed: dict[str, Any] = (
            data if response.status_code >= 400 and isinstance(data, dict) else {}
        )
        request_log_write(
            token_name=token.name if token else "",
            method=request.method or "",
            path=request.get_full_path(),
            status=response.status_code,
            duration_ms=int((time.monotonic() - started) * 1000),
            scim_type=str(failed.get("scimType", "")),
            error_detail=str(failed.get("detail", "")),
            body=body,
            request_id=current_request_id(),
            ignored_attributes=ignored,
        )
