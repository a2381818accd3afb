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

from axero_idp.db import insert_behind, insert_many_behind
from personas.models import PendingEvaluation, Persona
from personas.services.evaluation import (
    persona_evaluate,
    persona_evaluate_for_users,
    retry_on_deleted_rows,
)
from users.services import Actor

logger = logging.getLogger(__name__)

# Rows claimed per transaction; also the largest per-user evaluation. Beyond it a change
# is cheaper to handle as a full (set-based) re-evaluation than as a long IN list.
DRAIN_BATCH: Final = 2000
FULL_EVALUATION_THRESHOLD: Final = 5000


def pending_mark_users(*, user_ids: Collection[uuid.UUID]) -> None:
    """Note that these users' persona matches may have changed (called inside the
    directory's transaction: the mark commits with the change). Marks are append-only,
    with no unique column: written behind (axero_idp.db), they ride with the
    transaction's next statement instead of taking a round trip of their own."""
    if not user_ids:
        return
    if len(user_ids) > FULL_EVALUATION_THRESHOLD:
        insert_behind(PendingEvaluation())  # user and persona empty: evaluate everyone
        return
    insert_many_behind([PendingEvaluation(user_id=pk) for pk in user_ids])


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


def _drain_personas(actor: Actor, result: DrainResult) -> bool:
    """Persona-level marks (a persona changed; "everything"): each persona is evaluated
    in its own short transaction, then the marks that asked for it are deleted by id.
    Two drains may both evaluate a persona (the second finds nothing to do); a mark
    written meanwhile has a higher id and stays for the next run. Nothing is lost."""
    marks = list(
        PendingEvaluation.objects.filter(user_id__isnull=True)
        .order_by("pk")
        .values_list("pk", "persona_id")[:DRAIN_BATCH]
    )
    if not marks:
        return False
    personas = Persona.objects.order_by("pk")
    if all(persona_id is not None for _, persona_id in marks):
        personas = personas.filter(pk__in={persona_id for _, persona_id in marks})
    for persona in personas:
        outcome = persona_evaluate(persona=persona, actor=actor)
        result.added += outcome.added
        result.removed += outcome.removed
        result.personas += 1
    PendingEvaluation.objects.filter(pk__in=[pk for pk, _ in marks]).delete()
    result.marks += len(marks)
    return True


def _drain_users(actor: Actor, result: DrainResult) -> bool:
    """One batch of user marks, claimed and evaluated in one transaction: the marks are
    deleted with the changes they caused, so a crash re-runs the batch."""
    # The counts are added only once the batch committed (a failed attempt adds nothing).
    batch = retry_on_deleted_rows(lambda: _drain_user_batch(actor))
    if batch is None:
        return False
    result.added += batch.added
    result.removed += batch.removed
    result.marks += batch.marks
    result.users += batch.users
    return True


def _drain_user_batch(actor: Actor) -> DrainResult | None:
    result = DrainResult()
    with transaction.atomic():
        rows = PendingEvaluation.objects.filter(user_id__isnull=False).order_by("pk")
        if connection.features.has_select_for_update_skip_locked:
            # Several workers drain at once, each taking marks no one else holds.
            rows = rows.select_for_update(skip_locked=True)
        claimed = list(rows.values_list("pk", "user_id")[:DRAIN_BATCH])
        if not claimed:
            return None
        user_ids = {user_id for _, user_id in claimed if user_id is not None}
        for outcome in persona_evaluate_for_users(user_ids=user_ids, actor=actor):
            result.added += outcome.added
            result.removed += outcome.removed
        PendingEvaluation.objects.filter(pk__in=[pk for pk, _ in claimed]).delete()
        result.marks += len(claimed)
        result.users += len(user_ids)
    return result


def pending_drain(*, actor: Actor, max_batches: int = 50) -> DrainResult:
    """Evaluate what the marks ask for: changed personas first (for everyone), then the
    marked users in batches. Evaluation is idempotent, so a crash only repeats work."""
    result = DrainResult()
    for _ in range(max_batches):
        if not _drain_personas(actor, result):
            break
    for _ in range(max_batches):
        if not _drain_users(actor, result):
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
