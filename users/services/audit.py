"""Writing the audit trail. Called inside the service's own transaction, so a change
and its record commit or roll back together."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models

from axero_idp.request_id import current_request_id
from users.models import AuditEvent
from users.services.actors import Actor


def audit_record(
    *,
    actor: Actor,
    action: str,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the audit trail."""
    if target is not None:
        target_type = target_type or target._meta.model_name or ""
        target_id = target_id or str(target.pk)
    return AuditEvent.objects.create(
        actor_kind=actor.kind,
        actor_name=actor.name[:255],
        action=action,
        target_type=target_type,
        target_id=target_id,
        detail=detail or {},
        request_id=current_request_id(),
    )


def audit_record_many(
    *, actor: Actor, entries: Iterable[tuple[str, models.Model, dict[str, Any]]]
) -> list[AuditEvent]:
    """Append several events in one INSERT: (action, target, detail) each."""
    request_id = current_request_id()
    return AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                actor_kind=actor.kind,
                actor_name=actor.name[:255],
                action=action,
                target_type=target._meta.model_name or "",
                target_id=str(target.pk),
                detail=detail,
                request_id=request_id,
            )
            for action, target, detail in entries
        ]
    )
