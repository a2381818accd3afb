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

from django.db import DatabaseError, InterfaceError, OperationalError
from django.utils import timezone

from axero_idp import rawsql
from axero_idp.text import storable
from scim.models import ScimRequestLog
from scim.requestlog_buffer import Row, buffer_in_use, buffer_push, buffer_return, buffer_take

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
    row = (
        timezone.now(),  # the request's time, whenever the row reaches PostgreSQL
        _text(token_name[:100]),
        _text(method[:10]),
        _text(path[:2000]),
        status,
        max(0, duration_ms),
        _text(scim_type[:40]),
        _text(error_detail[:2000]),
        _text(redact_body(body)),
        _text(request_id[:64]),
        _text(", ".join(sorted(set(ignored_attributes)))[:2000]),
    )
    # Buffered in Redis for a worker to write in batches; directly when there is no
    # buffer or it does not answer (the log is not lost because Redis is down).
    if not (buffer_in_use() and buffer_push(row)):
        _insert_async_commit([row])


# In the order of the rows _write builds.
COLUMNS: Final = (
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


def _insert_async_commit(rows: Sequence[Row]) -> None:
    """One round trip for any number of rows, committed without waiting for the WAL
    flush.

    A row lost in a database crash is acceptable where a slower provisioning request is
    not. set_config(..., true) holds for the current transaction only: a request writes
    its row after the handler's own transactions have ended and the drain in autocommit,
    so that is this statement's, never a directory write's. Hand-written (rawsql policy:
    one multi-row statement that also removes a round trip) because the ORM needs a
    second round trip for the setting, or a transaction (three): one row alone costs
    120-185 us of PostgreSQL CPU, a row in a batch of 500 ~15 us (and ~18 us of python),
    measured as in scim.requestlog_buffer; tests/scim/test_requestlog_buffer.py counts
    one statement per batch.
    """
    placeholders = "(" + ", ".join(["%s"] * len(COLUMNS)) + ")"
    sql = (
        "WITH cfg AS (SELECT set_config('synchronous_commit', 'off', true)) "  # noqa: S608
        f"INSERT INTO {rawsql.table(ScimRequestLog)} ({rawsql.columns(ScimRequestLog, COLUMNS)}) "
        f"SELECT v.* FROM cfg, (VALUES {', '.join([placeholders] * len(rows))}) AS v"
    )
    rawsql.execute(sql, [value for row in rows for value in row])


DRAIN_BATCH: Final = 500
# A run moves at most this many batches; beat's next run (a minute) takes the rest.
DRAIN_MAX_BATCHES: Final = 200


def request_log_buffer_drain(
    *, batch: int = DRAIN_BATCH, max_batches: int = DRAIN_MAX_BATCHES
) -> int:
    """Move buffered rows into PostgreSQL, one multi-row INSERT per batch, oldest first;
    how many were written. Safe to run twice, and concurrently (each takes its own rows)."""
    written = 0
    for _ in range(max_batches):
        rows = buffer_take(batch)
        if not rows:
            break
        written += _batch_write(rows)
        if len(rows) < batch:
            break
    return written


def _batch_write(rows: Sequence[Row]) -> int:
    try:
        _insert_async_commit(rows)
        return len(rows)
    except (OperationalError, InterfaceError):
        # PostgreSQL is away: the rows go back to the head of the list for the next run.
        buffer_return(rows)
        raise
    except DatabaseError:
        logger.exception("a request log batch failed; writing its rows one by one")
    written = 0
    for row in rows:  # one bad row must not hold the rest back for ever
        try:
            _insert_async_commit([row])
            written += 1
        except DatabaseError:
            logger.exception("dropped a request log row PostgreSQL refused (request %s)", row[9])
    return written
