"""Create the first admin account if there is none (used by `make run`)."""

from __future__ import annotations

import secrets
from typing import Any

from django.core.management.base import BaseCommand

from users.models import Source, User
from users.services import Actor, user_create


class Command(BaseCommand):
    help = "Create an admin account (printing its generated password once) if none exists."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args: Any, **options: Any) -> None:
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("An admin account exists; not creating another.")
            return
        password = secrets.token_urlsafe(15)
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
