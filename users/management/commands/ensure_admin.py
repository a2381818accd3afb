"""Create the first admin account if there is none (used by `make run`), or, with
--reset USERNAME, give a local admin account back to whoever runs the shell."""

from __future__ import annotations

import secrets
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from users.models import Source, User
from users.services import (
    Actor,
    user_access_set,
    user_create,
    user_password_reset,
    user_reactivate,
)


def _new_password() -> str:
    return secrets.token_urlsafe(15)


class Command(BaseCommand):
    help = (
        "Create an admin account (printing its generated password once) if none exists; "
        "--reset USERNAME reactivates a local admin account and prints a new password once."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument(
            "--reset",
            metavar="USERNAME",
            help="Reactivate this local admin account, end its sessions and give it a new "
            "password (printed once, alone, on the last line).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["reset"]:
            self._reset(options["reset"])
            return
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("An admin account exists; not creating another.")
            return
        password = _new_password()
        user = user_create(
            actor=Actor.system("make run"),
            source=Source.ADMIN,
            username=options["username"],
            password=password,
            is_staff=True,
        )
        User.objects.filter(pk=user.pk).update(is_superuser=True)
        self.stdout.write(
            self.style.SUCCESS(
                f"Created admin account {user.username!r} with password: {password}\n"
                "It is shown only this once; change it in /admin/ after logging in."
            )
        )

    def _reset(self, username: str) -> None:
        user = User.objects.filter(username__ci=username).first()
        # Only a local superuser: an IdP-provisioned account is the IdP's to manage, and
        # promoting someone to superuser is a decision for admin, not for recovery.
        if user is None or user.source != Source.ADMIN or not user.is_superuser:
            raise CommandError(
                f"No local admin account {username!r} (a superuser created by ensure_admin, "
                "createsuperuser or in admin)."
            )
        password = _new_password()
        actor = Actor.system("ensure_admin --reset")
        with transaction.atomic():
            user = user_reactivate(user=user, actor=actor, reason="ensure_admin --reset")
            user_access_set(user=user, actor=actor, is_staff=True, is_superuser=True)
            user_password_reset(user=user, actor=actor, password=password)
        self.stdout.write(
            self.style.SUCCESS(
                f"Reset admin account {user.username!r}: active, with admin access and a new "
                "password; its other sessions have ended.\n"
                "The password is shown only this once, alone on the next line; change it in "
                "/admin/ after logging in."
            )
        )
        self.stdout.write(password)
