"""The provisioning request log: what an identity provider sent, and how it ended.

Bodies are stored truncated and with secrets redacted, so support can answer "what
did OneLogin send us at 09:14?" without the log becoming a store of passwords.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Sequence
from typing import Any, Final

from django.db import connection
from django.utils import timezone

from axero_idp.text import storable
from scim.models import ScimRequestLog

logger = logging.getLogger(__name__)

BODY_LIMIT: Final = 4096
REDACTED: Final = "[redacted]"
# Matched as parts of a key, so client_secret, refresh_token and apiKey are caught too:
# a redacted harmless value costs less than a stored secret.
_SECRET_WORDS: Final = ("password", "secret", "token", "authorization", "apikey", "api_key")
# Fallback for bodies that are not JSON: hide anything that looks like a secret.
_SECRET_TEXT = re.compile(
    r'("?(?:password|secret|token|authorization)"?\s*[:=]\s*)("[^"]*"|[^\s,&}]+)|'
    r"(bearer\s+)[A-Za-z0-9._~+/=-]+",
    re.IGNORECASE,
)


@functools.lru_cache(maxsize=1024)
def _secret(name: str) -> bool:
    # Cached: a body repeats a handful of keys ("value", "display") thousands of times.
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        # A PATCH operation names its attribute in "path" and carries it in "value":
        # {"op": "replace", "path": "password", "value": "..."}.
        secret_value = isinstance(value.get("path"), str) and _secret(value["path"])
        return {
            k: REDACTED if _secret(k) or (secret_value and k == "value") else _redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact(v) for v in value]
    if isinstance(value, str) and value.lower().startswith("bearer "):
        return REDACTED
    return value


def redact_body(raw: bytes) -> str:
    """The body as text for the log: JSON with secret values redacted, truncated."""
    if not raw:
        return ""
    text = raw[: BODY_LIMIT * 4].decode("utf-8", errors="replace")
    try:
        text = json.dumps(_redact(json.loads(raw)), ensure_ascii=False)
    except (ValueError, RecursionError):
        text = _SECRET_TEXT.sub(lambda m: (m.group(1) or m.group(3) or "") + REDACTED, text)
    if len(text) > BODY_LIMIT:
        text = text[:BODY_LIMIT] + "…[truncated]"
    return text


def _text(value: str) -> str:
    # PostgreSQL text cannot hold U+0000 nor UTF-8 a lone surrogate, and an error
    # detail (echoing an id from the path or an If-Match header) or a body can carry one.
    return storable(value)


def request_log_write(
    *,
    token_name: str,
    method: str,
    path: str,
    status: int,
    duration_ms: int,
    scim_type: str = "",
    error_detail: str = "",
    body: bytes = b"",
    request_id: str = "",
    ignored_attributes: Sequence[str] = (),
) -> None:
    """Record one request; a failure to log never fails the request itself."""
    try:
        _write(
            token_name=token_name,
            method=method,
            path=path,
            status=status,
            duration_ms=duration_ms,
            scim_type=scim_type,
            error_detail=error_detail,
            body=body,
            request_id=request_id,
            ignored_attributes=ignored_attributes,
        )
    except Exception:
        # Whatever the input: the answer to the identity provider matters more.
        logger.exception("could not write the SCIM request log")


def _write(
    *,
    token_name: str,
    method: str,
    path: str,
    status: int,
    duration_ms: int,
    scim_type: str,
    error_detail: str,
    body: bytes,
    request_id: str,
    ignored_attributes: Sequence[str],
) -> None:
    row = {
        "created_at": timezone.now(),
        "token_name": _text(token_name[:100]),
        "method": _text(method[:10]),
        "path": _text(path[:2000]),
        "status": status,
        "duration_ms": max(0, duration_ms),
        "scim_type": _text(scim_type[:40]),
        "error_detail": _text(error_detail[:2000]),
        "request_body": _text(redact_body(body)),
        "request_id": _text(request_id[:64]),
        "ignored_attributes": _text(", ".join(sorted(set(ignored_attributes)))[:2000]),
    }
    _insert_async_commit(row)


_COLUMNS: Final = (
    "created_at",
    "token_name",
    "method",
    "path",
    "status",
    "duration_ms",
    "scim_type",
    "error_detail",
    "request_body",
    "request_id",
    "ignored_attributes",
)


def _insert_async_commit(row: dict[str, Any]) -> None:
    """One round trip, committed without waiting for the WAL flush.

    Every SCIM request writes a log row; a row lost in a database crash is acceptable
    where a slower provisioning request is not. set_config(..., true) holds for the
    current transaction only: the view writes the log after the handler's own
    transactions have ended, so that is this statement's, never a directory write's.
    """
    columns = ", ".join(_COLUMNS)
    placeholders = ", ".join(["%s"] * len(_COLUMNS))
    sql = (
        "WITH cfg AS (SELECT set_config('synchronous_commit', 'off', true)) "  # noqa: S608
        f"INSERT INTO {ScimRequestLog._meta.db_table} ({columns}) "
        f"SELECT {placeholders} FROM cfg"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [row[c] for c in _COLUMNS])
