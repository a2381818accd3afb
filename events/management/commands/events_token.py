"""`manage.py events_token create --name NAME | list | revoke NAME`: tokens that read
the events feed (GET /api/v1/events/) and nothing else."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from axero_idp.token_command import TokenCommand
from events.models import EventsToken
from events.tokens import events_token_create, events_token_revoke
from users.services import Actor


class Command(TokenCommand):
    help = "Create, list or revoke events feed tokens."
    label = "events token"

    def token_create(self, *, name: str, actor: Actor, options: dict[str, Any]) -> tuple[Any, str]:
        return events_token_create(name=name, actor=actor)

    def token_revoke(self, *, name: str, actor: Actor) -> Any:
        return events_token_revoke(name=name, actor=actor)

    def token_rows(self) -> Iterable[tuple[Any, Sequence[str]]]:
        return ((token, ()) for token in EventsToken.objects.order_by("name"))
