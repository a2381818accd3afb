"""The evaluator's durable to-do list (PendingEvaluation) and its drain.

Event handlers run inside SCIM and SAML requests, so marking must be cheap and must
never depend on the broker: a mark is one INSERT, then a thin Celery task is queued on
a best-effort basis. Beat drains every minute too, so a broker outage only delays.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

from django.db import connection, transaction

from personas.models import PendingEvaluation, Persona
from personas.services.evaluation import persona_evaluate, persona_evaluate_for_users
from users.services import Actor

logger = logging.getLogger(__name__)

# Rows claimed per transaction; also the largest per-user evaluation. Beyond it a change
# is cheaper to handle as a full (set-based) re-evaluation than as a long IN list.
DRAIN_BATCH: Final = 2000
FULL_EVALUATION_THRESHOLD: Final = 5000


def pending_mark_users(*, user_ids: Collection[uuid.UUID]) -> None:
    """Note that these users' persona matches may have changed."""
    if not user_ids:
        return
    if len(user_ids) > FULL_EVALUATION_THRESHOLD:
        PendingEvaluation.objects.create()
        return
    PendingEvaluation.objects.bulk_create(
        [PendingEvaluation(user_id=pk) for pk in user_ids], batch_size=DRAIN_BATCH
    )


def pending_mark_persona(*, persona_id: int) -> None:
    """Note that a persona (its rule or its spaces) changed: evaluate it for everyone."""
    PendingEvaluation.objects.create(persona_id=persona_id)


@dataclass
class DrainResult:
    marks: int = 0
    users: int = 0
    personas: int = 0
    added: int = 0
    removed: int = 0


def _claim() -> list[PendingEvaluation]:
    rows = PendingEvaluation.objects.order_by("pk")
    if connection.features.has_select_for_update_skip_locked:
        # Several workers drain at once, each taking rows no one else holds.
        rows = rows.select_for_update(skip_locked=True)
    return list(rows[:DRAIN_BATCH])


def _drain_batch(actor: Actor, result: DrainResult) -> bool:
    with transaction.atomic():
        claimed = _claim()
        if not claimed:
            return False
        everything = any(row.user_id is None and row.persona_id is None for row in claimed)
        persona_ids = {row.persona_id for row in claimed if row.persona_id is not None}
        user_ids = {row.user_id for row in claimed if row.user_id is not None}
        # Lock every persona up front, in id order: the evaluations below then never
        # wait on each other's locks in a different order (no deadlock between drains).
        every_persona = list(Persona.objects.select_for_update().order_by("pk"))
        if everything or len(user_ids) > FULL_EVALUATION_THRESHOLD:
            personas = every_persona
        else:
            personas = [p for p in every_persona if p.pk in persona_ids]
        for persona in personas:
            outcome = persona_evaluate(persona=persona, actor=actor)
            result.added += outcome.added
            result.removed += outcome.removed
        if user_ids and personas is not every_persona:
            for outcome in persona_evaluate_for_users(user_ids=user_ids, actor=actor):
                result.added += outcome.added
                result.removed += outcome.removed
        PendingEvaluation.objects.filter(pk__in=[row.pk for row in claimed]).delete()
        result.marks += len(claimed)
        result.users += len(user_ids)
        result.personas += len(personas)
    return True


def pending_drain(*, actor: Actor, max_batches: int = 50) -> DrainResult:
    """Evaluate what the marks ask for, batch by batch; each batch commits with its
    deletions, so a crash re-runs at most one batch (evaluation is idempotent)."""
    result = DrainResult()
    for _ in range(max_batches):
        if not _drain_batch(actor, result):
            break
    if result.marks:
        logger.info(
            "persona marks drained: %s marks, %s users, %s personas, %s added, %s removed",
            result.marks,
            result.users,
            result.personas,
            result.added,
            result.removed,
        )
    return result
