"""Helpers for persona tests: define personas through the services, read memberships."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from personas.models import Persona, SpaceMembership
from personas.services import SpaceGrant, persona_evaluate, persona_upsert, space_upsert
from users.services import Actor

TODAY = dt.date(2026, 3, 1)


@pytest.fixture(autouse=True)
def _drain_queue_window_open(monkeypatch):
    """Each test starts with no drain queued by this process (personas.queue)."""
    from personas import queue

    queue.drain.window_reset()


@pytest.fixture
def define(db, actor: Actor):
    """define(slug, rule, spaces=("space",)) -> Persona, creating missing spaces."""

    def make(
        slug: str, rule: dict[str, Any], spaces: tuple[str, ...] = ("space",), role: str = "member"
    ) -> Persona:
        for space in spaces:
            space_upsert(slug=space, name=space.title(), actor=actor)
        persona, _ = persona_upsert(
            slug=slug,
            name=slug.title(),
            rule=rule,
            spaces=[SpaceGrant(space=s, role=role) for s in spaces],
            actor=actor,
            schedule_evaluation=False,
        )
        return persona

    return make


@pytest.fixture
def evaluate(actor: Actor):
    """evaluate(persona, today=TODAY) -> EvaluationResult."""

    def run(persona: Persona, today: dt.date = TODAY):
        return persona_evaluate(persona=persona, actor=actor, today=today)

    return run


def members(space: str = "space") -> set[str]:
    """Usernames in a space (any reason)."""
    return set(
        SpaceMembership.objects.filter(space__slug=space).values_list("user__username", flat=True)
    )


def reasons(space: str = "space") -> set[tuple[str, str, str | None]]:
    return {
        (m.user.username, m.source, m.persona.slug if m.persona else None)
        for m in SpaceMembership.objects.filter(space__slug=space).select_related("user", "persona")
    }
