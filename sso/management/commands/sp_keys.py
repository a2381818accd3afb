"""`manage.py sp_keys list | create | reencrypt` (README "Operating in production").

- `create`: a new SP key pair for a rollover; both certificates are published in the SP
  metadata until the old key is retired in admin.
- `reencrypt`: the last step of a SECRET_KEY rotation: every stored SP private key is
  re-encrypted with the new SECRET_KEY, read with the old one from SECRET_KEY_FALLBACKS.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sso.keys import sp_key_create, sp_keys_reencrypt
from sso.models import SPKey


class Command(BaseCommand):
    help = "List, create (rollover) or re-encrypt the SP key pairs."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="list SP keys (name, active, created)")
        sub.add_parser("create", help="create a new active SP key (rollover)")
        sub.add_parser("reencrypt", help="re-encrypt every SP key with SECRET_KEY")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "list":
            for key in SPKey.objects.order_by("created_at", "pk"):
                state = "active" if key.is_active else "retired"
                self.stdout.write(f"{key.name}\t{state}\t{key.created_at:%Y-%m-%d %H:%M}")
        elif action == "create":
            name = f"sp-key-{SPKey.objects.count() + 1}"
            while SPKey.objects.filter(name=name).exists():
                name += "-b"
            sp_key_create(name=name)
            self.stdout.write(
                f"created {name}: give the new SP metadata to every IdP, then retire the old key in admin"
            )
        else:
            try:
                count = sp_keys_reencrypt()
            except ImproperlyConfigured as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"re-encrypted {count} SP key(s) with the current SECRET_KEY")
