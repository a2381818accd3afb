"""The shape shared by `manage.py scim_token` and `manage.py events_token`: create (the
raw token printed once, alone on the last line), list, revoke, each through the app's
own audited service."""

from __future__ import annotations

import datetime as dt
from abc import ABCMeta, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from axero_idp.errors import ApplicationError
from users.services import Actor


def when(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


class TokenCommand(BaseCommand, metaclass=ABCMeta):
    """Subclasses name the token (`label`), say how the create prompt ends
    (`store_hint`) and implement create, revoke and the list's extra columns (abstract:
    a subclass missing one cannot be instantiated, so its command fails at load)."""

    label = ""
    store_hint = "store it now:"
    # (heading, width) of the columns between the name and the dates in `list`.
    extra_columns: Sequence[tuple[str, int]] = ()

    def add_create_arguments(self, parser: CommandParser) -> None:
        """Options of `create` beyond --name."""

    @abstractmethod
    def token_create(self, *, name: str, actor: Actor, options: dict[str, Any]) -> tuple[Any, str]:
        """The app's audited create service: (token, raw value shown once)."""

    @abstractmethod
    def token_revoke(self, *, name: str, actor: Actor) -> Any:
        """The app's audited revoke service: the revoked token."""

    @abstractmethod
    def token_rows(self) -> Iterable[tuple[Any, Sequence[str]]]:
        """Each token, with its values for `extra_columns`."""

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a token and print it once")
        create.add_argument("--name", required=True)
        self.add_create_arguments(create)
        sub.add_parser("list", help="list tokens")
        revoke = sub.add_parser("revoke", help="revoke a token")
        revoke.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = Actor.system(f"manage.py {self._command_name()}")
        try:
            getattr(self, f"_{options['action']}")(actor, options)
        except ApplicationError as exc:
            raise CommandError(exc.detail) from exc

    def _command_name(self) -> str:
        return type(self).__module__.rsplit(".", 1)[-1]

    def _create(self, actor: Actor, options: dict[str, Any]) -> None:
        token, raw = self.token_create(name=options["name"], actor=actor, options=options)
        self.stdout.write(
            f"Created {self.label} {token.name!r}. It is shown once; {self.store_hint}"
        )
        # The raw token alone on the last line, so scripts can take `tail -n1`.
        self.stdout.write(raw)

    def _list(self, actor: Actor, options: dict[str, Any]) -> None:
        extra = "".join(f"{heading:<{width}} " for heading, width in self.extra_columns)
        self.stdout.write(f"{'name':<30} {extra}{'created':<24} {'last used':<24} revoked")
        for token, values in self.token_rows():
            cells = "".join(
                f"{value:<{width}} "
                for value, (_h, width) in zip(values, self.extra_columns, strict=True)
            )
            self.stdout.write(
                f"{token.name:<30} {cells}{when(token.created_at):<24} "
                f"{when(token.last_used_at):<24} {when(token.revoked_at)}"
            )

    def _revoke(self, actor: Actor, options: dict[str, Any]) -> None:
        token = self.token_revoke(name=options["name"], actor=actor)
        self.stdout.write(f"Revoked {self.label} {token.name!r}.")
