"""A request id for every request: made fresh (or, behind a proxy the operator trusts,
taken from its X-Request-ID), echoed in the response, attached to every log line and
audit event, and shown as the support reference on refusal and error pages.

A client's own X-Request-ID is ignored by default: the reference names one request in
the log and the audit trail, and a client choosing it could make a refusal page quote
another person's reference, or many requests share one."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse

_current: ContextVar[str] = ContextVar("request_id", default="")
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


def current_request_id() -> str:
    return _current.get()


def new_request_id(candidate: str | None = None) -> str:
    """Use the proxy's id when it is a plain token, else make one (never trust free text)."""
    if candidate and _ACCEPTABLE.match(candidate):
        return candidate
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        trusted = getattr(settings, "TRUST_REQUEST_ID_HEADER", False)
        request_id = new_request_id(request.headers.get("X-Request-ID") if trusted else None)
        token = _current.set(request_id)
        request.request_id = request_id  # type: ignore[attr-defined]
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response["X-Request-ID"] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _current.get()
        return True
