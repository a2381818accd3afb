"""`manage.py custom_field add KEY --type TYPE [--label LABEL]` and `custom_field list`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from axero_idp.errors import ApplicationError
from users.models import CustomField, CustomFieldType
from users.services import Actor, custom_field_define


class Command(BaseCommand):
    help = "Define custom profile fields (they appear in SCIM /Schemas and persona rules)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="define a field (idempotent)")
        add.add_argument("key")
        add.add_argument("--type", required=True, choices=CustomFieldType.values)
        add.add_argument("--label", default="")
        sub.add_parser("list", help="list the defined fields")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "list":
            for field in CustomField.objects.all():
                self.stdout.write(f"{field.key}\t{field.type}\t{field.label}")
            return
        try:
            field, created = custom_field_define(
                key=options["key"],
                type=options["type"],
                label=options["label"],
                actor=Actor.system("manage.py custom_field"),
            )
        except ApplicationError as exc:
            raise CommandError(exc.detail) from exc
        verb = "Defined" if created else "Already defined"
        self.stdout.write(f"{verb} custom field {field.key} ({field.type}): {field.label}")
