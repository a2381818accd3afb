"""`manage.py saml_idp import --slug SLUG (--metadata-file PATH | --metadata-url URL)
[--attribute-map PATH] [--allow-idp-initiated]` (INTERFACES.md §3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from axero_idp.errors import ApplicationError
from sso.metadata import idp_metadata_fetch
from sso.models import slug_validator
from sso.services import idp_import
from users.services import Actor


class Command(BaseCommand):
    help = "Create or update a SAML identity provider from its metadata."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="import IdP metadata")
        imp.add_argument("--slug", required=True)
        source = imp.add_mutually_exclusive_group(required=True)
        source.add_argument("--metadata-file")
        source.add_argument("--metadata-url")
        imp.add_argument(
            "--attribute-map", help="JSON file: product field -> SAML attribute name(s)"
        )
        imp.add_argument("--allow-idp-initiated", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        slug = options["slug"]
        try:
            slug_validator(slug)
        except Exception as exc:
            raise CommandError(
                f"--slug: {slug!r} must be lower-case letters, digits and -"
            ) from exc
        attribute_map = None
        if options["attribute_map"]:
            try:
                attribute_map = json.loads(Path(options["attribute_map"]).read_text())
            except (OSError, ValueError) as exc:
                raise CommandError(f"--attribute-map: {exc}") from exc
            if not isinstance(attribute_map, dict):
                raise CommandError("--attribute-map: expected a JSON object")
        try:
            if options["metadata_file"]:
                try:
                    metadata = Path(options["metadata_file"]).read_bytes()
                except OSError as exc:
                    raise CommandError(f"--metadata-file: {exc}") from exc
            else:
                metadata = idp_metadata_fetch(options["metadata_url"])
            idp, created, _changes = idp_import(
                slug=slug,
                metadata_xml=metadata,
                actor=Actor.system("manage.py saml_idp"),
                metadata_url=options["metadata_url"],
                attribute_map=attribute_map,
                allow_idp_initiated=True if options["allow_idp_initiated"] else None,
            )
        except ApplicationError as exc:
            raise CommandError(exc.detail) from exc
        verb = "created" if created else "updated"
        self.stdout.write(
            f"identity provider {idp.slug} {verb}: entity ID {idp.entity_id}, "
            f"{len(idp.signing_certificates)} signing certificate(s)"
        )
