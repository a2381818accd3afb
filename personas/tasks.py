"""Celery tasks of personas: thin, safe to run twice, bounded in time."""

from __future__ import annotations

from celery import shared_task

from personas.models import Persona
from personas.services import pending_drain, persona_evaluate
from users.services import Actor

SYSTEM = Actor.system("personas")


@shared_task(acks_late=True, time_limit=600, soft_time_limit=570)
def personas_pending_drain() -> int:
    """Evaluate what the pending marks ask for (queued by events; and every minute)."""
    return pending_drain(actor=SYSTEM).marks


@shared_task(acks_late=True, time_limit=600, soft_time_limit=570)
def persona_evaluate_one(persona_id: int) -> int:
    """Re-evaluate one persona for everyone; a persona deleted since is a no-op."""
    persona = Persona.objects.filter(pk=persona_id).first()
    if persona is None:
        return 0
    result = persona_evaluate(persona=persona, actor=SYSTEM)
    return result.added + result.removed


@shared_task(acks_late=True, time_limit=120, soft_time_limit=100)
def personas_evaluate_daily() -> int:
    """Daily: queue a full evaluation of every persona. Time rules (within_days,
    older_than_days) move with the calendar; the others are a cheap self-heal for
    anything an event could not announce (a restore from backup, say)."""
    ids = list(Persona.objects.order_by("pk").values_list("pk", flat=True))
    for persona_id in ids:
        persona_evaluate_one.delay(persona_id)
    return len(ids)
