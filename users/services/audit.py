"""The audit trail's one writer: the only module that writes AuditEvent rows.

Called inside the service's own transaction, so a change and its record commit or roll
back together. Three ways in, one spelling of the columns:

- `audit_record`: one event, the ORM's own INSERT written behind (axero_idp.db): it
  rides with the transaction's next statement instead of taking a round trip of its
  own (the audit trail is append-only and has no unique column, so nothing can refuse
  it but a broken transaction, which fails the statement it rides with just the same);
- `audit_record_many`: several events known in Python, one multi-row INSERT per 1,000,
  written behind like `audit_record`'s row (axero_idp.db);
- `audit_insert_from_select`: one event per row of a SELECT, for set-based changes
  (memberships deleted with their space), as a statement to run or to embed in a CTE.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any, Final

from django.db import models
from django.utils import timezone

from axero_idp import rawsql
from axero_idp.db import insert_behind, insert_many_behind
from axero_idp.request_id import current_request_id
from users.models import AuditEvent
from users.services.actors import Actor

# Every column the writer fills, in the order of audit_insert_from_select's statement.
AUDIT_COLUMNS: Final = (
    "created_at",
    "actor_kind",
    "actor_name",
    "action",
    "target_type",
    "target_id",
    "detail",
    "request_id",
)


def _event(
    actor: Actor, action: str, target_type: str, target_id: str, detail: dict[str, Any]
) -> AuditEvent:
    return AuditEvent(
        created_at=timezone.now(),
        actor_kind=actor.kind,
        actor_name=actor.name[:255],
        action=action,
        target_type=target_type,
        target_id=target_id,
        detail=detail,
        request_id=current_request_id(),
    )


def audit_record(
    *,
    actor: Actor,
    action: str,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one event to the audit trail."""
    if target is not None:
        target_type = target_type or target._meta.model_name or ""
        target_id = target_id or str(target.pk)
    insert_behind(_event(actor, action, target_type, target_id, detail or {}))


def audit_record_many(
    *, actor: Actor, entries: Iterable[tuple[str, models.Model, dict[str, Any]]]
) -> None:
    """Append several events in one INSERT: (action, target, detail) each."""
    rows = [
        _event(actor, action, target._meta.model_name or "", str(target.pk), detail)
        for action, target, detail in entries
    ]
    if rows:
        # Written behind (axero_idp.db): they ride with the transaction's next statement.
        insert_many_behind(rows)


def audit_insert_from_select(
    *, actor: Actor, action: str, rows_sql: str, rows_params: Sequence[Any]
) -> tuple[str, list[Any]]:
    """The INSERT ... SELECT of one `action` event per row of rows_sql, whose columns
    are (target_type, target_id, detail jsonb). Run it with audit_record_from_select, or
    embed it in a data-modifying CTE (then the statement is the caller's)."""
    sql = (
        f"INSERT INTO {rawsql.table(AuditEvent)} ({rawsql.columns(AuditEvent, AUDIT_COLUMNS)})"  # noqa: S608
        " SELECT %s, %s, %s, %s, r.target_type, r.target_id, r.detail, %s"
        f" FROM ({rows_sql}) r"
    )
    params = [timezone.now(), actor.kind, actor.name[:255], action, current_request_id()]
    return sql, [*params, *rows_params]


def audit_record_from_select(
    *, actor: Actor, action: str, rows_sql: str, rows_params: Sequence[Any]
) -> int:
    """Append one event per row of rows_sql (see audit_insert_from_select) in one
    statement, whatever their number; how many were written.

    Set-based, and it earns its place: deleting a space of 10,000 members writes their
    events and outbox rows in 877 ms, against 4,094 ms for reading the rows and two
    bulk_creates (4.7x; bench/rawsql_gains.py, loaded shared 2-core machine). Statement
    count: tests/users/test_audit_writer.py."""
    return rawsql.execute(
        *audit_insert_from_select(
            actor=actor, action=action, rows_sql=rows_sql, rows_params=rows_params
        )
    )


def certificate_fingerprints(certificates: Any) -> list[str]:
    """How certificates appear in an audit record's before/after: they are public, but
    base64 bodies read as noise; their SHA-256 fingerprints (first 16 hex digits) say
    which ones came and went."""
    return [hashlib.sha256(str(body).encode()).hexdigest()[:16] for body in certificates or []]
