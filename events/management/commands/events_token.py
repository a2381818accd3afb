"""`manage.py events_token create --name NAME | list | revoke NAME`: tokens that read
the events feed (GET /api/v1/events/) and nothing else."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from axero_idp.errors import ApplicationError
from events.models import EventsToken
from events.tokens import events_token_create, events_token_revoke
from users.services import Actor


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


class Command(BaseCommand):
    help = "Create, list or revoke events feed tokens."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a token and print it once")
        create.add_argument("--name", required=True)
        sub.add_parser("list", help="list tokens")
        revoke = sub.add_parser("revoke", help="revoke a token")
        revoke.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = Actor.system("manage.py events_token")
        try:
            if options["action"] == "create":
                token, raw = events_token_create(name=options["name"], actor=actor)
                self.stdout.write(
                    f"Created events token {token.name!r}. It is shown once; store it now:"
                )
                # The raw token alone on the last line, so scripts can take `tail -n1`.
                self.stdout.write(raw)
            elif options["action"] == "list":
                self.stdout.write(f"{'name':<30} {'created':<24} {'last used':<24} revoked")
                for token in EventsToken.objects.order_by("name"):
                    self.stdout.write(
                        f"{token.name:<30} {_when(token.created_at):<24} "
                        f"{_when(token.last_used_at):<24} {_when(token.revoked_at)}"
                    )
            else:
                token = events_token_revoke(name=options["name"], actor=actor)
                self.stdout.write(f"Revoked events token {token.name!r}.")
        except ApplicationError as exc:
            raise CommandError(exc.detail) from exc
