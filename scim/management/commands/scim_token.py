"""`manage.py scim_token create --name NAME [--idp SLUG] | list | revoke NAME`
(INTERFACES.md §3). --idp binds the token to that identity provider's connection."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from axero_idp.errors import ApplicationError
from scim.models import ScimToken
from scim.tokens import scim_token_create, scim_token_revoke
from users.services import Actor


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


class Command(BaseCommand):
    help = "Create, list or revoke SCIM provisioning tokens."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a token and print it once")
        create.add_argument("--name", required=True)
        create.add_argument(
            "--idp",
            help="the identity provider (slug) this token provisions for: its SAML login "
            "links the users the token creates",
        )
        sub.add_parser("list", help="list tokens")
        revoke = sub.add_parser("revoke", help="revoke a token")
        revoke.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = Actor.system("manage.py scim_token")
        try:
            if options["action"] == "create":
                token, raw = scim_token_create(
                    name=options["name"], actor=actor, connection_slug=options.get("idp")
                )
                self.stdout.write(
                    f"Created SCIM token {token.name!r}. It is shown once; store it in the "
                    "identity provider now:"
                )
                # The raw token alone on the last line, so scripts can take `tail -n1`.
                self.stdout.write(raw)
            elif options["action"] == "list":
                self.stdout.write(
                    f"{'name':<30} {'idp':<20} {'created':<24} {'last used':<24} revoked"
                )
                for token in ScimToken.objects.select_related("connection").order_by("name"):
                    idp = token.connection.slug if token.connection else "-"
                    self.stdout.write(
                        f"{token.name:<30} {idp:<20} {_when(token.created_at):<24} "
                        f"{_when(token.last_used_at):<24} {_when(token.revoked_at)}"
                    )
            else:
                token = scim_token_revoke(name=options["name"], actor=actor)
                self.stdout.write(f"Revoked SCIM token {token.name!r}.")
        except ApplicationError as exc:
            raise CommandError(exc.detail) from exc
