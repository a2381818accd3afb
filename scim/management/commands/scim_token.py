"""`manage.py scim_token create --name NAME [--idp SLUG] | list | revoke NAME`
(INTERFACES.md §3). --idp binds the token to that identity provider's connection."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.core.management.base import CommandParser

from axero_idp.token_command import TokenCommand
from scim.models import ScimToken
from scim.tokens import scim_token_create, scim_token_revoke
from users.services import Actor


class Command(TokenCommand):
    help = "Create, list or revoke SCIM provisioning tokens."
    label = "SCIM token"
    store_hint = "store it in the identity provider now:"
    extra_columns = (("idp", 20),)

    def add_create_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--idp",
            help="the identity provider (slug) this token provisions for: its SAML login "
            "links the users the token creates",
        )

    def token_create(self, *, name: str, actor: Actor, options: dict[str, Any]) -> tuple[Any, str]:
        return scim_token_create(name=name, actor=actor, connection_slug=options.get("idp"))

    def token_revoke(self, *, name: str, actor: Actor) -> Any:
        return scim_token_revoke(name=name, actor=actor)

    def token_rows(self) -> Iterable[tuple[Any, Sequence[str]]]:
        for token in ScimToken.objects.select_related("connection").order_by("name"):
            yield token, (token.connection.slug if token.connection else "-",)
