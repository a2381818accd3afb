"""Writing the audit trail. Called inside the service's own transaction, so a change
and its record commit or roll back together.

Every write in the product appends here (each login, each SCIM push), so the INSERT is
built by hand from the model's own fields (each value prepared by its field, exactly as
the ORM would) instead of going through the ORM's per-call insert compilation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

from django.db import connection, models
from django.utils import timezone

from axero_idp.request_id import current_request_id
from users.models import AuditEvent
from users.services.actors import Actor

_COLUMNS: Final = (
    "created_at",
    "actor_kind",
    "actor_name",
    "action",
    "target_type",
    "target_id",
    "detail",
    "request_id",
)
_FIELDS: Final = tuple(AuditEvent._meta.get_field(name) for name in _COLUMNS)


def _insert(rows: Sequence[Sequence[Any]]) -> None:
    if not rows:
        return
    quote = connection.ops.quote_name
    one = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
    params = [
        field.get_db_prep_save(value, connection)  # type: ignore[union-attr]
        for row in rows
        for field, value in zip(_FIELDS, row, strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(AuditEvent._meta.db_table)} "  # noqa: S608
            f"({', '.join(quote(c) for c in _COLUMNS)}) VALUES {', '.join([one] * len(rows))}",
            params,
        )


def _row(
    actor: Actor, action: str, target_type: str, target_id: str, detail: dict[str, Any]
) -> tuple[Any, ...]:
    return (
        timezone.now(),
        actor.kind,
        actor.name[:255],
        action,
        target_type,
        target_id,
        detail,
        current_request_id(),
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
    _insert([_row(actor, action, target_type, target_id, detail or {})])


# One statement per this many events (PostgreSQL's bind parameters are bounded).
_BATCH: Final = 1000


def audit_record_many(
    *, actor: Actor, entries: Iterable[tuple[str, models.Model, dict[str, Any]]]
) -> None:
    """Append several events in one INSERT: (action, target, detail) each."""
    rows = [
        _row(actor, action, target._meta.model_name or "", str(target.pk), detail)
        for action, target, detail in entries
    ]
    for start in range(0, len(rows), _BATCH):
        _insert(rows[start : start + _BATCH])
